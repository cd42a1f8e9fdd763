// Blueprint-facing types. Engine glue only: requests, results and errors are converted to and
// from the C++ core's (vitrine/client.h), where all logic lives.
#pragma once

#include "CoreMinimal.h"
#include "VitrineTypes.generated.h"

UENUM(BlueprintType)
enum class EVitrineAssetKind : uint8
{
	Unspecified = 0,
	Prop = 1,
	Texture = 2,
	Character = 3,
	Render = 4,
	Scene = 5,
};

/** A GenerateRequest: Options by proto field name with text values ("max_triangles" "2000",
 *  "pivot" "center", "skeleton" "unreal"); the core's SetOption parses them. */
USTRUCT(BlueprintType)
struct VITRINE_API FVitrineRequest
{
	GENERATED_BODY()

	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "Vitrine")
	FString Model = TEXT("procedural");

	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "Vitrine")
	FString Category = TEXT("chair");

	/** 0 = the server picks one (reported in the result). Int64 for Blueprint; must be >= 0. */
	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "Vitrine")
	int64 Seed = 0;

	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "Vitrine")
	TMap<FString, FString> Options;
};

USTRUCT(BlueprintType)
struct VITRINE_API FVitrineFile
{
	GENERATED_BODY()

	UPROPERTY(BlueprintReadOnly, Category = "Vitrine")
	FString Name;

	UPROPERTY(BlueprintReadOnly, Category = "Vitrine")
	FString MimeType;

	UPROPERTY(BlueprintReadOnly, Category = "Vitrine")
	int32 Lod = 0;

	UPROPERTY(BlueprintReadOnly, Category = "Vitrine")
	TArray<uint8> Data;
};

/** A verified asset (every file's size and SHA-256 checked by the core). */
USTRUCT(BlueprintType)
struct VITRINE_API FVitrineAsset
{
	GENERATED_BODY()

	UPROPERTY(BlueprintReadOnly, Category = "Vitrine")
	FString AssetId;

	UPROPERTY(BlueprintReadOnly, Category = "Vitrine")
	int64 Seed = 0;

	UPROPERTY(BlueprintReadOnly, Category = "Vitrine")
	EVitrineAssetKind Kind = EVitrineAssetKind::Unspecified;

	/** Streaming order: coarsest level of detail first. */
	UPROPERTY(BlueprintReadOnly, Category = "Vitrine")
	TArray<FVitrineFile> Files;
};

/** Why a call failed: the gRPC status code name, the server's message (naming the allowed
 *  range) and the offending field ("options.max_triangles"), as the core reports them. */
USTRUCT(BlueprintType)
struct VITRINE_API FVitrineError
{
	GENERATED_BODY()

	UPROPERTY(BlueprintReadOnly, Category = "Vitrine")
	FString Code;

	UPROPERTY(BlueprintReadOnly, Category = "Vitrine")
	FString Message;

	UPROPERTY(BlueprintReadOnly, Category = "Vitrine")
	FString Field;
};
