// Engine glue: FVitrineRequest -> vitrine::GenerateRequest, vitrine::Asset -> FVitrineAsset.
// The call itself, reassembly, verification, resume, cancel and deadlines are the core's
// (clients/cpp, tested by its ctest suite).
#include "VitrineSubsystem.h"

THIRD_PARTY_INCLUDES_START
#include "vitrine/client.h"
THIRD_PARTY_INCLUDES_END

namespace
{
FVitrineError ToUnreal(const vitrine::Error& E)
{
	FVitrineError Out;
	if (!E.ok())
	{
		Out.Code = UTF8_TO_TCHAR(vitrine::Error::CodeName(E.code));
		Out.Message = UTF8_TO_TCHAR(E.message.c_str());
		Out.Field = UTF8_TO_TCHAR(E.field.c_str());
	}
	return Out;
}

FVitrineAsset ToUnreal(vitrine::Asset&& A)
{
	FVitrineAsset Out;
	Out.AssetId = UTF8_TO_TCHAR(A.asset_id().c_str());
	Out.Seed = static_cast<int64>(A.header.seed());
	Out.Kind = static_cast<EVitrineAssetKind>(A.header.kind());
	for (int32 i = 0; i < static_cast<int32>(A.files.size()); ++i)
	{
		FVitrineFile& F = Out.Files.AddDefaulted_GetRef();
		F.Name = UTF8_TO_TCHAR(A.files[i].name.c_str());
		F.MimeType = UTF8_TO_TCHAR(A.files[i].mime_type.c_str());
		F.Lod = static_cast<int32>(A.header.files(i).lod());
		F.Data.Append(A.files[i].data.data(), static_cast<int32>(A.files[i].data.size()));
	}
	return Out;
}
}  // namespace

void UVitrineSubsystem::Initialize(FSubsystemCollectionBase& Collection)
{
	Super::Initialize(Collection);
	vitrine::ClientOptions Options;
	Options.address = TCHAR_TO_UTF8(*Address);
	Options.timeout = std::chrono::milliseconds(static_cast<int64>(TimeoutSeconds * 1000.f));
	Options.token = TCHAR_TO_UTF8(*Token);
	Client = MakeUnique<vitrine::Client>(Options);
}

void UVitrineSubsystem::Deinitialize()
{
	Client.Reset();  // cancels calls in flight; their callbacks do not run
	Super::Deinitialize();
}

uint64 UVitrineSubsystem::Generate(const FVitrineRequest& Request, FVitrineAssetDone Done)
{
	vitrine::v1::GenerateRequest R = vitrine::MakeRequest(
		TCHAR_TO_UTF8(*Request.Model), TCHAR_TO_UTF8(*Request.Category), static_cast<uint64_t>(FMath::Max<int64>(Request.Seed, 0)));
	// Unreal's normal maps are DirectX (green down); ask for them unless the caller chose.
	if (Request.Model.Contains(TEXT("texture")) && !Request.Options.Contains(TEXT("normal_convention")))
	{
		vitrine::SetOption(&R, "normal_convention", "directx");
	}
	for (const TPair<FString, FString>& Option : Request.Options)
	{
		const vitrine::Error E = vitrine::SetOption(&R, TCHAR_TO_UTF8(*Option.Key), TCHAR_TO_UTF8(*Option.Value));
		if (!E.ok())
		{
			Done.ExecuteIfBound(ToUnreal(E), FVitrineAsset());
			return 0;
		}
	}
	return Client->GenerateAsync(R, [Done](const vitrine::Error& E, vitrine::Asset A) {
		Done.ExecuteIfBound(ToUnreal(E), E.ok() ? ToUnreal(MoveTemp(A)) : FVitrineAsset());
	});
}

void UVitrineSubsystem::Cancel(uint64 CallId)
{
	if (Client) Client->Cancel(CallId);
}

void UVitrineSubsystem::Tick(float DeltaTime)
{
	Client->Tick();  // game thread: callbacks run here
}

TStatId UVitrineSubsystem::GetStatId() const
{
	RETURN_QUICK_DECLARE_CYCLE_STAT(UVitrineSubsystem, STATGROUP_Tickables);
}
