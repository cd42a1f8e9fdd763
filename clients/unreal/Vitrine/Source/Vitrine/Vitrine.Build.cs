// The vitrine runtime module: the C++ client core (clients/cpp, copied into
// Source/Vitrine/VitrineCore by Scripts/sync_core.sh, and compiled here as module code),
// the game-instance subsystem and the async Blueprint nodes.
//
// gRPC, protobuf and abseil come from TurboLink's ThirdParty module (TurboLinkGrpc), which
// ships them prebuilt for Win64/Linux/Mac; OpenSSL (SHA-256) is the engine's own. The core's
// generated stubs must come from the protoc/grpc_cpp_plugin of that same gRPC version
// (sync_core.sh takes PROTOC= and GRPC_CPP_PLUGIN=).
using System.IO;
using UnrealBuildTool;

public class Vitrine : ModuleRules
{
	public Vitrine(ReadOnlyTargetRules Target) : base(Target)
	{
		PCHUsage = PCHUsageMode.UseExplicitOrSharedPCHs;
		CppStandard = CppStandardVersion.Cpp17;
		bEnableExceptions = false;

		// UnrealBuildTool compiles every source under the module folder, the core's too.
		string Core = Path.Combine(ModuleDirectory, "VitrineCore");
		if (!File.Exists(Path.Combine(Core, "include", "vitrine", "client.h")))
			throw new BuildException("vitrine: run Scripts/sync_core.sh first (it copies the C++ core from clients/cpp)");
		PublicIncludePaths.Add(Path.Combine(Core, "include"));
		PublicIncludePaths.Add(Path.Combine(Core, "gen"));

		PublicDependencyModuleNames.AddRange(new string[] {
			"Core", "CoreUObject", "Engine", "glTFRuntime", "TurboLinkGrpc",
		});
		PrivateDependencyModuleNames.AddRange(new string[] { "OpenSSL", "ImageCore" });

		// protobuf's generated code and gRPC's headers trip UE's stricter warnings.
		bDisableStaticAnalysis = true;
		ShadowVariableWarningLevel = WarningLevel.Off;
		PublicDefinitions.Add("GOOGLE_PROTOBUF_NO_RTTI=1");
		PublicDefinitions.Add("GPR_FORBID_UNREACHABLE_CODE=0");
	}
}
