// UVitrineSubsystem: one vitrine::Client per game instance, ticked on the game thread, so
// every callback (and every Blueprint node's output pin) fires on the game thread.
#pragma once

#include "CoreMinimal.h"
#include "Subsystems/GameInstanceSubsystem.h"
#include "Tickable.h"
#include "VitrineTypes.h"
#include "VitrineSubsystem.generated.h"

namespace vitrine { class Client; }

DECLARE_DELEGATE_TwoParams(FVitrineAssetDone, const FVitrineError& /*Error; Code empty = ok*/, const FVitrineAsset& /*Asset*/);

UCLASS(Config = Game)
class VITRINE_API UVitrineSubsystem : public UGameInstanceSubsystem, public FTickableGameObject
{
	GENERATED_BODY()

public:
	/** host:port of `vitrine serve` (DefaultGame.ini: [/Script/Vitrine.VitrineSubsystem] Address=...). */
	UPROPERTY(Config, BlueprintReadOnly, Category = "Vitrine")
	FString Address = TEXT("127.0.0.1:50051");

	/** Deadline of each call in seconds; 0 = none. */
	UPROPERTY(Config, BlueprintReadOnly, Category = "Vitrine")
	float TimeoutSeconds = 300.f;

	/** Sent as "authorization: Bearer <token>" when the server has --auth-tokens. */
	UPROPERTY(Config, BlueprintReadOnly, Category = "Vitrine")
	FString Token;

	virtual void Initialize(FSubsystemCollectionBase& Collection) override;
	virtual void Deinitialize() override;

	/** Starts a Generate call; Done runs on the game thread. Texture requests default to
	 *  DirectX normal maps (Unreal's convention). Returns a call id for Cancel. */
	uint64 Generate(const FVitrineRequest& Request, FVitrineAssetDone Done);
	void Cancel(uint64 CallId);

	// FTickableGameObject: drains the core's completion queue once per frame.
	virtual void Tick(float DeltaTime) override;
	virtual TStatId GetStatId() const override;
	virtual bool IsTickable() const override { return Client.IsValid(); }
	virtual ETickableTickType GetTickableTickType() const override { return ETickableTickType::Conditional; }

private:
	TUniquePtr<vitrine::Client> Client;
};
