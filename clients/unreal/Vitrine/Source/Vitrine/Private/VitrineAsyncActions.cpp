// Async Blueprint nodes. Thin: the subsystem does the call, glTFRuntime the mesh import.
#include "VitrineAsyncActions.h"

#include "Engine/GameInstance.h"
#include "Engine/World.h"
#include "glTFRuntimeFunctionLibrary.h"
#include "VitrineSubsystem.h"

namespace
{
UVitrineSubsystem* SubsystemOf(UObject* WorldContext)
{
	UWorld* World = WorldContext ? WorldContext->GetWorld() : nullptr;
	UGameInstance* Game = World ? World->GetGameInstance() : nullptr;
	return Game ? Game->GetSubsystem<UVitrineSubsystem>() : nullptr;
}

FVitrineError Failure(const TCHAR* Code, const FString& Message)
{
	FVitrineError E;
	E.Code = Code;
	E.Message = Message;
	return E;
}

// The finest GLB of an asset: the last file with the lowest lod (files stream coarsest first).
const FVitrineFile* FinestGlb(const FVitrineAsset& Asset)
{
	const FVitrineFile* Best = nullptr;
	for (const FVitrineFile& F : Asset.Files)
	{
		if (F.MimeType == TEXT("model/gltf-binary") && (!Best || F.Lod <= Best->Lod)) Best = &F;
	}
	return Best;
}
}  // namespace

UVitrineGenerateAsync* UVitrineGenerateAsync::GenerateAsset(UObject* WorldContext, const FVitrineRequest& Request)
{
	UVitrineGenerateAsync* Node = NewObject<UVitrineGenerateAsync>();
	Node->World = WorldContext;
	Node->Request = Request;
	Node->RegisterWithGameInstance(WorldContext);
	return Node;
}

void UVitrineGenerateAsync::Activate()
{
	UVitrineSubsystem* Vitrine = SubsystemOf(World.Get());
	if (!Vitrine)
	{
		OnFailure.Broadcast(FVitrineAsset(), Failure(TEXT("FAILED_PRECONDITION"), TEXT("no game instance")));
		SetReadyToDestroy();
		return;
	}
	Vitrine->Generate(Request, FVitrineAssetDone::CreateWeakLambda(this, [this](const FVitrineError& E, const FVitrineAsset& A) {
		(E.Code.IsEmpty() ? OnSuccess : OnFailure).Broadcast(A, E);
		SetReadyToDestroy();
	}));
}

UVitrineSpawnMeshAsync* UVitrineSpawnMeshAsync::GenerateMesh(UObject* WorldContext, const FVitrineRequest& Request)
{
	UVitrineSpawnMeshAsync* Node = NewObject<UVitrineSpawnMeshAsync>();
	Node->World = WorldContext;
	Node->Request = Request;
	Node->RegisterWithGameInstance(WorldContext);
	return Node;
}

void UVitrineSpawnMeshAsync::Activate()
{
	UVitrineSubsystem* Vitrine = SubsystemOf(World.Get());
	if (!Vitrine)
	{
		OnFailure.Broadcast(nullptr, nullptr, FVitrineAsset(), Failure(TEXT("FAILED_PRECONDITION"), TEXT("no game instance")));
		SetReadyToDestroy();
		return;
	}
	Vitrine->Generate(Request, FVitrineAssetDone::CreateUObject(this, &UVitrineSpawnMeshAsync::Loaded));
}

void UVitrineSpawnMeshAsync::Loaded(const FVitrineError& Error, const FVitrineAsset& Asset)
{
	const FVitrineFile* Glb = Error.Code.IsEmpty() ? FinestGlb(Asset) : nullptr;
	if (!Glb)
	{
		OnFailure.Broadcast(nullptr, nullptr, Asset, Error.Code.IsEmpty() ? Failure(TEXT("DATA_LOSS"), TEXT("no GLB in the asset")) : Error);
		SetReadyToDestroy();
		return;
	}
	// glTF is +Y up, metres; glTFRuntime's default config converts to Unreal's +Z up, cm.
	UglTFRuntimeAsset* Gltf = UglTFRuntimeFunctionLibrary::glTFLoadAssetFromData(Glb->Data, FglTFRuntimeConfig());
	UStaticMesh* Static = nullptr;
	USkeletalMesh* Skeletal = nullptr;
	if (Gltf && Asset.Kind == EVitrineAssetKind::Character)
	{
		Skeletal = Gltf->LoadSkeletalMesh(0, 0, FglTFRuntimeSkeletalMeshConfig());
	}
	else if (Gltf)
	{
		Static = Gltf->LoadStaticMesh(0, FglTFRuntimeStaticMeshConfig());
	}
	if (Static || Skeletal)
		OnLoaded.Broadcast(Static, Skeletal, Asset, Error);
	else
		OnFailure.Broadcast(nullptr, nullptr, Asset, Failure(TEXT("DATA_LOSS"), TEXT("glTFRuntime could not load ") + Glb->Name));
	SetReadyToDestroy();
}
