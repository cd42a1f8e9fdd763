// vitrine C++ client core: ListModels, Generate, GenerateBatch and Fetch into memory.
//
// Every file is reassembled from its chunks and checked against the header's size and SHA-256
// before a callback sees it. A stream that breaks mid-asset (UNAVAILABLE, INTERNAL) is resumed
// with Fetch from the first missing byte, up to `ClientOptions::retries` times.
//
// Threading, as an engine's game thread wants it: every call is asynchronous on one gRPC
// completion queue, and callbacks run only inside `Tick()` (or `TickFor()`), on the thread
// that calls it. A Client is not thread-safe: start calls, tick and cancel from one thread.
// The blocking methods (`ListModels`, `Generate`, ...) tick until their own call is done, so
// the callbacks of other calls in flight may run inside them.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "vitrine/v1/assets.grpc.pb.h"

namespace vitrine {

namespace v1 = ::vitrine::v1;

// A refusal or a failure: the gRPC status code, its message and the offending request field
// (from the google.rpc.BadRequest detail, else the message's "field: " prefix; "" if none).
struct Error {
  grpc::StatusCode code = grpc::StatusCode::OK;
  std::string message;
  std::string field;

  bool ok() const { return code == grpc::StatusCode::OK; }
  std::string ToString() const;  // "INVALID_ARGUMENT: options.max_triangles: got 5; ..."
  static const char* CodeName(grpc::StatusCode code);
};

struct File {
  std::string name;       // e.g. "lod0.glb", "base_color.png"
  std::string mime_type;  // e.g. "model/gltf-binary"
  std::vector<uint8_t> data;
};

// One asset, every file verified (size and SHA-256), in streaming order: coarsest LOD first.
struct Asset {
  v1::AssetHeader header;
  std::vector<File> files;

  const std::string& asset_id() const { return header.asset_id(); }
  const File* Find(const std::string& name) const;  // nullptr if absent
};

// The raw tail of an asset from (file_index, offset), as Fetch streams it: `data[i]` holds
// the bytes of file i from `first_byte[i]` on (files before file_index are empty). Unverified
// by nature (a hash covers whole files); Client::Generate/Fetch return verified Assets.
struct AssetTail {
  v1::AssetHeader header;
  std::vector<uint64_t> first_byte;
  std::vector<std::vector<uint8_t>> data;
};

// One answer of GenerateBatch: the asset, or why its request was refused.
struct BatchItem {
  Error error;
  Asset asset;
};

struct ClientOptions {
  std::string address = "127.0.0.1:50051";  // host:port of `vitrine serve`
  std::chrono::milliseconds timeout{300000};  // deadline of each call; 0 = none
  int retries = 3;                            // Fetch-resumes of one broken stream
  std::string token;                          // sent as "authorization: Bearer <token>"; "" = none
  // Testing aid: after this many chunks of a Generate/Fetch stream, treat the stream as broken
  // (cancel it and resume with Fetch, as after a dropped connection). 0 = off.
  int break_stream_after_chunks = 0;
};

// Identifies a call in flight, for Cancel(). 0 is never a valid call.
using CallId = uint64_t;

using ModelsCallback = std::function<void(const Error&, std::vector<v1::ModelInfo>)>;
using AssetCallback = std::function<void(const Error&, Asset)>;
using TailCallback = std::function<void(const Error&, AssetTail)>;
using BatchCallback = std::function<void(const Error&, std::vector<BatchItem>)>;
// (bytes received, bytes expected) of the asset so far; runs inside Tick().
using ProgressCallback = std::function<void(uint64_t, uint64_t)>;
// One file of an asset, verified (size and SHA-256), as soon as its last byte arrives; runs
// inside Tick(). With `request.set_progressive(true)` a cache miss streams each file as the
// server builds it, so a prop's coarsest level can be shown while the finer ones are made.
using FileCallback = std::function<void(const File&)>;

// A GenerateRequest; set options through `request.mutable_options()`.
v1::GenerateRequest MakeRequest(const std::string& model, const std::string& category,
                                uint64_t seed = 0);

// Sets one option of `request` from text, by its proto field name, as engines' string maps
// and CLIs have them: "max_triangles" "2000", "size_m" "1.5", "pivot" "center" or
// "PIVOT_CENTER", "material" "marble". Reads the field list from the generated descriptor, so
// a field added to the .proto needs no edit here. INVALID_ARGUMENT naming the field if the
// name is unknown or the text does not parse (the server checks ranges).
Error SetOption(v1::GenerateRequest* request, const std::string& name, const std::string& text);

// Lowercase hex SHA-256 of `size` bytes.
std::string Sha256Hex(const uint8_t* data, size_t size);

class Client {
 public:
  // Channel settings an engine needs: gRPC's 4 MiB receive limit kept (the server's chunks are
  // bounded below it), keepalive pings every 45 s even with no call open (the server permits
  // pings >= 10 s), so idle connections survive NATs and proxies.
  static constexpr int kMaxReceiveBytes = 4 * 1024 * 1024;
  static constexpr int kKeepaliveMs = 45000;

  explicit Client(ClientOptions options);
  ~Client();  // cancels every call in flight; their callbacks do not run
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Asynchronous calls: the callback runs once, inside a later Tick().
  CallId ListModelsAsync(ModelsCallback done);
  CallId GenerateAsync(const v1::GenerateRequest& request, AssetCallback done,
                       ProgressCallback progress = {}, FileCallback on_file = {});
  CallId GenerateBatchAsync(const std::vector<v1::GenerateRequest>& requests,
                            BatchCallback done);
  CallId FetchAsync(const std::string& asset_id, AssetCallback done,
                    ProgressCallback progress = {});
  CallId FetchTailAsync(const std::string& asset_id, uint32_t file_index, uint64_t offset,
                        TailCallback done);

  // Cancels a call in flight: its callback runs (in a later Tick) with CANCELLED. A finished
  // or unknown id is ignored.
  void Cancel(CallId id);

  // Runs the callbacks of every event that is ready, without waiting; returns how many calls
  // finished. Call it once per frame.
  int Tick();
  // As Tick(), but waits up to `wait` for the first event.
  int TickFor(std::chrono::milliseconds wait);
  size_t InFlight() const { return calls_.size(); }

  // Blocking conveniences: start the call and tick until it is done.
  Error ListModels(std::vector<v1::ModelInfo>* models);
  Error Generate(const v1::GenerateRequest& request, Asset* asset);
  Error GenerateBatch(const std::vector<v1::GenerateRequest>& requests,
                      std::vector<BatchItem>* items);
  Error Fetch(const std::string& asset_id, Asset* asset);
  Error FetchTail(const std::string& asset_id, uint32_t file_index, uint64_t offset,
                  AssetTail* tail);

  const ClientOptions& options() const { return options_; }

  class Call;  // one rpc in flight (internal)

 private:
  friend class Call;
  void Prepare(grpc::ClientContext* context) const;
  CallId Add(std::unique_ptr<Call> call);
  bool Step(void* tag, bool ok);  // true when the call finished
  void WaitFor(CallId id);

  ClientOptions options_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::AssetService::Stub> stub_;
  grpc::CompletionQueue queue_;
  std::map<CallId, std::unique_ptr<Call>> calls_;
  CallId next_id_ = 1;
  bool closing_ = false;  // in the destructor: no callbacks, no resumes
};

}  // namespace vitrine
