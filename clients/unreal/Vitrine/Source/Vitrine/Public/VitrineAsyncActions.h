// Async Blueprint nodes: Generate -> verified GLB bytes -> glTFRuntime -> a mesh.
#pragma once

#include "CoreMinimal.h"
#include "Kismet/BlueprintAsyncActionBase.h"
#include "VitrineTypes.h"
#include "VitrineAsyncActions.generated.h"

class UStaticMesh;
class USkeletalMesh;
class UTexture2D;

DECLARE_DYNAMIC_MULTICAST_DELEGATE_TwoParams(FVitrineAssetPin, const FVitrineAsset&, Asset, const FVitrineError&, Error);
DECLARE_DYNAMIC_MULTICAST_DELEGATE_FourParams(FVitrineMeshPin, UStaticMesh*, StaticMesh, USkeletalMesh*, SkeletalMesh,
                                              const FVitrineAsset&, Asset, const FVitrineError&, Error);

/** Generate an asset; outputs its verified files (GLB bytes, PNGs). */
UCLASS()
class VITRINE_API UVitrineGenerateAsync : public UBlueprintAsyncActionBase
{
	GENERATED_BODY()

public:
	UPROPERTY(BlueprintAssignable)
	FVitrineAssetPin OnSuccess;

	UPROPERTY(BlueprintAssignable)
	FVitrineAssetPin OnFailure;

	UFUNCTION(BlueprintCallable, Category = "Vitrine", meta = (BlueprintInternalUseOnly = "true", WorldContext = "WorldContext"))
	static UVitrineGenerateAsync* GenerateAsset(UObject* WorldContext, const FVitrineRequest& Request);

	virtual void Activate() override;

private:
	TWeakObjectPtr<UObject> World;
	FVitrineRequest Request;
};

/** Generate an asset and load it with glTFRuntime (glTFLoadAssetFromData): props (and texture
 *  previews) as a static mesh of the finest LOD, characters as a skeletal mesh. */
UCLASS()
class VITRINE_API UVitrineSpawnMeshAsync : public UBlueprintAsyncActionBase
{
	GENERATED_BODY()

public:
	UPROPERTY(BlueprintAssignable)
	FVitrineMeshPin OnLoaded;

	UPROPERTY(BlueprintAssignable)
	FVitrineMeshPin OnFailure;

	UFUNCTION(BlueprintCallable, Category = "Vitrine", meta = (BlueprintInternalUseOnly = "true", WorldContext = "WorldContext"))
	static UVitrineSpawnMeshAsync* GenerateMesh(UObject* WorldContext, const FVitrineRequest& Request);

	virtual void Activate() override;

private:
	void Loaded(const FVitrineError& Error, const FVitrineAsset& Asset);

	TWeakObjectPtr<UObject> World;
	FVitrineRequest Request;
};
