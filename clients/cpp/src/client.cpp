// The client core: one completion queue, one state machine per call, reassembly + SHA-256.
#include "vitrine/client.h"

#include <openssl/evp.h>

#include <cctype>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <utility>

#include "google/rpc/status.pb.h"

namespace vitrine {

namespace {

// Reassembles one asset from its chunks and verifies it, hashing each file as it arrives.
class Assembly {
 public:
  explicit Assembly(const v1::AssetHeader& header, FileCallback on_file_ = {})
      : on_file(std::move(on_file_)), header_(header) {
    Open(0);
  }
  ~Assembly() {
    for (EVP_MD_CTX* ctx : hashes_) EVP_MD_CTX_free(ctx);
  }
  Assembly(const Assembly&) = delete;
  Assembly& operator=(const Assembly&) = delete;

  const v1::AssetHeader& header() const { return header_; }

  // Files the asset has: the header's file_count (0 from older servers: every file listed).
  uint32_t FileCount() const {
    return header_.file_count() ? header_.file_count()
                                : static_cast<uint32_t>(header_.files_size());
  }

  // A progressive Generate's next file (AssetPart.file): it takes the next file_index.
  Error Announce(const v1::AssetFile& f) {
    if (static_cast<uint32_t>(header_.files_size()) >= FileCount()) {
      return {grpc::StatusCode::DATA_LOSS,
              "file part " + f.name() + " past the asset's " + std::to_string(FileCount()) +
                  " files"};
    }
    *header_.add_files() = f;
    Open(header_.files_size() - 1);
    return {};
  }

  // A resumed stream's header (Fetch) lists every file: take those not announced yet.
  void Extend(const v1::AssetHeader& header) {
    const int known = header_.files_size();
    for (int i = known; i < header.files_size(); ++i) *header_.add_files() = header.files(i);
    Open(known);
  }

  // Chunks of a file arrive in order and a resumed stream starts at the first missing byte,
  // so each chunk must continue its file exactly.
  Error Add(const v1::Chunk& chunk) {
    const uint32_t fi = chunk.file_index();
    if (fi >= data_.size()) {
      return {grpc::StatusCode::DATA_LOSS,
              "chunk for file " + std::to_string(fi) + " of " + std::to_string(data_.size())};
    }
    if (chunk.offset() != received_[fi]) {
      return {grpc::StatusCode::DATA_LOSS,
              "chunk at offset " + std::to_string(chunk.offset()) + " of file " +
                  std::to_string(fi) + "; expected " + std::to_string(received_[fi])};
    }
    const uint64_t end = chunk.offset() + chunk.data().size();
    if (end > data_[fi].size()) {
      return {grpc::StatusCode::DATA_LOSS, "chunk past the end of file " + std::to_string(fi)};
    }
    std::memcpy(data_[fi].data() + chunk.offset(), chunk.data().data(), chunk.data().size());
    EVP_DigestUpdate(hashes_[fi], chunk.data().data(), chunk.data().size());
    received_[fi] = end;
    if (end == data_[fi].size()) return Seal(fi);
    return {};
  }

  // Verifies file `fi` (all its bytes in) and, with `on_file`, hands it over.
  Error Seal(size_t fi) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_DigestFinal_ex(hashes_[fi], digest, &len);
    const v1::AssetFile& f = header_.files(static_cast<int>(fi));
    if (HexOf(digest, len) != f.sha256()) {
      return {grpc::StatusCode::DATA_LOSS, f.name() + ": sha256 mismatch"};
    }
    sealed_[fi] = true;
    if (on_file) on_file(File{f.name(), f.mime_type(), data_[fi]});
    return {};
  }

  FileCallback on_file;

  // (file index, offset) of the first missing byte; (file count, 0) when complete.
  std::pair<uint32_t, uint64_t> ResumePoint() const {
    for (size_t i = 0; i < data_.size(); ++i) {
      if (received_[i] < data_[i].size()) return {static_cast<uint32_t>(i), received_[i]};
    }
    return {static_cast<uint32_t>(data_.size()), 0};
  }
  bool Complete() const {
    return data_.size() == FileCount() && ResumePoint().first == data_.size();
  }
  // True once file `fi` has all its bytes (the caller may then verify and use it).
  bool FileDone(uint32_t fi) const { return fi < data_.size() && received_[fi] == data_[fi].size(); }

  uint64_t Received() const {
    uint64_t n = 0;
    for (uint64_t r : received_) n += r;
    return n;
  }
  uint64_t Total() const {
    uint64_t n = 0;
    for (const auto& d : data_) n += d.size();
    return n;
  }

  Error Finish(Asset* out) {
    if (data_.size() < FileCount()) {
      return {grpc::StatusCode::DATA_LOSS, "the stream ended after " +
                                               std::to_string(data_.size()) + " of " +
                                               std::to_string(FileCount()) + " files"};
    }
    header_.set_file_count(FileCount());
    for (size_t i = 0; i < data_.size(); ++i) {
      const v1::AssetFile& f = header_.files(static_cast<int>(i));
      if (received_[i] != f.size_bytes()) {
        return {grpc::StatusCode::DATA_LOSS, f.name() + ": got " + std::to_string(received_[i]) +
                                                 " of " + std::to_string(f.size_bytes()) +
                                                 " bytes"};
      }
      if (!sealed_[i]) {
        Error e = Seal(i);
        if (!e.ok()) return e;
      }
    }
    out->header = header_;
    out->files.clear();
    for (size_t i = 0; i < data_.size(); ++i) {
      const v1::AssetFile& f = header_.files(static_cast<int>(i));
      out->files.push_back({f.name(), f.mime_type(), std::move(data_[i])});
    }
    return {};
  }

  static std::string HexOf(const unsigned char* bytes, unsigned int len) {
    static const char* digits = "0123456789abcdef";
    std::string hex;
    hex.reserve(len * 2);
    for (unsigned int i = 0; i < len; ++i) {
      hex += digits[bytes[i] >> 4];
      hex += digits[bytes[i] & 15];
    }
    return hex;
  }

 private:
  void Open(int start) {
    for (int i = start; i < header_.files_size(); ++i) {
      data_.emplace_back(header_.files(i).size_bytes());
      received_.push_back(0);
      sealed_.push_back(false);
      EVP_MD_CTX* ctx = EVP_MD_CTX_new();
      EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
      hashes_.push_back(ctx);
    }
  }

  v1::AssetHeader header_;
  std::vector<std::vector<uint8_t>> data_;  // each file preallocated to its size
  std::vector<uint64_t> received_;
  std::vector<bool> sealed_;  // verified (its digest is final)
  std::vector<EVP_MD_CTX*> hashes_;
};

// The field a refusal names: the google.rpc.BadRequest detail's first violation, else the
// server's "field: message" prefix (e.g. "options.max_triangles: got 5; allowed ...").
std::string FieldOf(const grpc::Status& status) {
  google::rpc::Status details;
  if (!status.error_details().empty() && details.ParseFromString(status.error_details())) {
    for (const auto& any : details.details()) {
      google::rpc::BadRequest bad;
      if (any.Is<google::rpc::BadRequest>() && any.UnpackTo(&bad) &&
          bad.field_violations_size() > 0) {
        return bad.field_violations(0).field();
      }
    }
  }
  const std::string& m = status.error_message();
  size_t i = 0;
  while (i < m.size() && (std::islower(static_cast<unsigned char>(m[i])) ||
                          std::isdigit(static_cast<unsigned char>(m[i])) || m[i] == '_' ||
                          m[i] == '.')) {
    ++i;
  }
  if (i > 0 && i + 1 < m.size() && m[i] == ':' && m[i + 1] == ' ') return m.substr(0, i);
  return "";
}

Error FromStatus(const grpc::Status& status) {
  if (status.ok()) return {};
  return {status.error_code(), status.error_message(), FieldOf(status)};
}

bool Resumable(grpc::StatusCode code) {
  return code == grpc::StatusCode::UNAVAILABLE || code == grpc::StatusCode::INTERNAL;
}

}  // namespace

// ---------------------------------------------------------------------------------------

const char* Error::CodeName(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK: return "OK";
    case grpc::StatusCode::CANCELLED: return "CANCELLED";
    case grpc::StatusCode::UNKNOWN: return "UNKNOWN";
    case grpc::StatusCode::INVALID_ARGUMENT: return "INVALID_ARGUMENT";
    case grpc::StatusCode::DEADLINE_EXCEEDED: return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::NOT_FOUND: return "NOT_FOUND";
    case grpc::StatusCode::ALREADY_EXISTS: return "ALREADY_EXISTS";
    case grpc::StatusCode::PERMISSION_DENIED: return "PERMISSION_DENIED";
    case grpc::StatusCode::RESOURCE_EXHAUSTED: return "RESOURCE_EXHAUSTED";
    case grpc::StatusCode::FAILED_PRECONDITION: return "FAILED_PRECONDITION";
    case grpc::StatusCode::ABORTED: return "ABORTED";
    case grpc::StatusCode::OUT_OF_RANGE: return "OUT_OF_RANGE";
    case grpc::StatusCode::UNIMPLEMENTED: return "UNIMPLEMENTED";
    case grpc::StatusCode::INTERNAL: return "INTERNAL";
    case grpc::StatusCode::UNAVAILABLE: return "UNAVAILABLE";
    case grpc::StatusCode::DATA_LOSS: return "DATA_LOSS";
    case grpc::StatusCode::UNAUTHENTICATED: return "UNAUTHENTICATED";
    default: return "UNKNOWN";
  }
}

std::string Error::ToString() const { return std::string(CodeName(code)) + ": " + message; }

const File* Asset::Find(const std::string& name) const {
  for (const File& f : files) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

v1::GenerateRequest MakeRequest(const std::string& model, const std::string& category,
                                uint64_t seed) {
  v1::GenerateRequest r;
  r.set_model(model);
  r.set_category(category);
  r.set_seed(seed);
  return r;
}

Error SetOption(v1::GenerateRequest* request, const std::string& name, const std::string& text) {
  using google::protobuf::FieldDescriptor;
  v1::Options* options = request->mutable_options();
  const FieldDescriptor* f = options->GetDescriptor()->FindFieldByName(name);
  const std::string field = "options." + name;
  if (f == nullptr) {
    std::string known;
    for (int i = 0; i < options->GetDescriptor()->field_count(); ++i) {
      known += (i ? ", " : "") + options->GetDescriptor()->field(i)->name();
    }
    return {grpc::StatusCode::INVALID_ARGUMENT, field + ": unknown option; options: " + known,
            field};
  }
  const auto* reflection = options->GetReflection();
  const Error bad{grpc::StatusCode::INVALID_ARGUMENT,
                  field + ": cannot read " + std::string(f->type_name()) + " from '" + text + "'",
                  field};
  const char* begin = text.c_str();
  char* end = nullptr;
  errno = 0;
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_UINT32:
    case FieldDescriptor::CPPTYPE_UINT64: {
      if (text.empty() || text[0] == '-') return bad;
      const unsigned long long v = std::strtoull(begin, &end, 10);
      if (*end != '\0' || errno == ERANGE) return bad;
      if (f->cpp_type() == FieldDescriptor::CPPTYPE_UINT32) {
        if (v > 0xffffffffULL) return bad;
        reflection->SetUInt32(options, f, static_cast<uint32_t>(v));
      } else {
        reflection->SetUInt64(options, f, v);
      }
      return {};
    }
    case FieldDescriptor::CPPTYPE_INT32:
    case FieldDescriptor::CPPTYPE_INT64: {
      const long long v = std::strtoll(begin, &end, 10);
      if (text.empty() || *end != '\0' || errno == ERANGE) return bad;
      if (f->cpp_type() == FieldDescriptor::CPPTYPE_INT32) {
        if (v < INT32_MIN || v > INT32_MAX) return bad;
        reflection->SetInt32(options, f, static_cast<int32_t>(v));
      } else {
        reflection->SetInt64(options, f, v);
      }
      return {};
    }
    case FieldDescriptor::CPPTYPE_FLOAT:
    case FieldDescriptor::CPPTYPE_DOUBLE: {
      const double v = std::strtod(begin, &end);
      if (text.empty() || *end != '\0' || errno == ERANGE) return bad;
      if (f->cpp_type() == FieldDescriptor::CPPTYPE_FLOAT) {
        reflection->SetFloat(options, f, static_cast<float>(v));
      } else {
        reflection->SetDouble(options, f, v);
      }
      return {};
    }
    case FieldDescriptor::CPPTYPE_BOOL:
      if (text != "true" && text != "false") return bad;
      reflection->SetBool(options, f, text == "true");
      return {};
    case FieldDescriptor::CPPTYPE_STRING:
      reflection->SetString(options, f, text);
      return {};
    case FieldDescriptor::CPPTYPE_ENUM: {
      // "center", "Center", "PIVOT_CENTER": upper-cased, '-' -> '_', the prefix of the
      // enum's values added when missing (values are named PREFIX_NAME, the style guide's way).
      std::string upper;
      for (char c : text) upper += c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      const auto* e = f->enum_type();
      const std::string& first = e->value(0)->name();  // e.g. PIVOT_UNSPECIFIED
      const std::string prefix = first.substr(0, first.rfind("UNSPECIFIED"));
      const auto* v = e->FindValueByName(upper);
      if (v == nullptr) v = e->FindValueByName(prefix + upper);
      if (v == nullptr || v->number() == 0) {
        std::string allowed;
        for (int i = 1; i < e->value_count(); ++i) allowed += (i > 1 ? ", " : "") + e->value(i)->name();
        return {grpc::StatusCode::INVALID_ARGUMENT,
                field + ": '" + text + "' is not one of " + allowed, field};
      }
      reflection->SetEnumValue(options, f, v->number());
      return {};
    }
    default:
      return bad;
  }
}

std::string Sha256Hex(const uint8_t* data, size_t size) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data, size, digest, &len, EVP_sha256(), nullptr);
  return Assembly::HexOf(digest, len);
}

// ---------------------------------------------------------------------------------------
// One rpc in flight. Exactly one operation of a call is pending on the queue at a time, so
// the call itself is the tag, and `state` says which operation completed.

class Client::Call {
 public:
  enum class Kind { kModels, kGenerate, kFetch, kTail, kBatch };
  enum class State { kStarting, kReading, kFinishing };

  Call(Kind kind, CallId id) : kind(kind), id(id) {}

  Kind kind;
  CallId id;
  State state = State::kStarting;
  std::unique_ptr<grpc::ClientContext> context;
  std::unique_ptr<grpc::ClientAsyncReader<v1::AssetPart>> reader;
  std::unique_ptr<grpc::ClientAsyncResponseReader<v1::ListModelsResponse>> unary;
  v1::ListModelsResponse models;
  v1::AssetPart part;
  grpc::Status status;
  Error failure;              // found here (DATA_LOSS, an error part): ends the call
  bool cancelled = false;     // by Cancel() or the Client's destructor
  bool broken_for_test = false;
  bool break_used = false;
  int chunks = 0;
  int attempts = 0;

  // Generate / Fetch
  std::unique_ptr<Assembly> assembly;
  AssetCallback on_asset;
  ProgressCallback on_progress;
  FileCallback on_file;  // Generate: each verified file as soon as it is whole
  // FetchTail
  AssetTail tail;
  bool tail_started = false;
  TailCallback on_tail;
  // GenerateBatch
  std::map<uint32_t, std::unique_ptr<Assembly>> current;
  std::vector<BatchItem> items;
  std::vector<bool> answered;
  BatchCallback on_batch;
  ModelsCallback on_models;

  // Handles one streamed part; an error ends the call.
  Error OnPart(const ClientOptions& options) {
    if (part.has_error() && kind != Kind::kBatch) {
      return {static_cast<grpc::StatusCode>(part.error().code()), part.error().message(),
              part.error().field()};
    }
    switch (kind) {
      case Kind::kGenerate:
      case Kind::kFetch:
        if (part.has_header()) {
          if (!assembly) {
            assembly = std::make_unique<Assembly>(part.header(), on_file);
          } else if (part.header().asset_id() != assembly->header().asset_id()) {
            return {grpc::StatusCode::DATA_LOSS, "a resumed stream sent another asset"};
          } else {
            assembly->Extend(part.header());
          }
        } else if (part.has_file()) {  // progressive Generate: the next file
          if (!assembly) return {grpc::StatusCode::DATA_LOSS, "a file part before the header"};
          Error e = assembly->Announce(part.file());
          if (!e.ok()) return e;
        } else if (part.has_chunk()) {
          if (!assembly) return {grpc::StatusCode::DATA_LOSS, "a chunk before the header"};
          Error e = assembly->Add(part.chunk());
          if (!e.ok()) return e;
          if (on_progress) on_progress(assembly->Received(), assembly->Total());
          ++chunks;
          if (options.break_stream_after_chunks > 0 && !break_used &&
              chunks >= options.break_stream_after_chunks && !assembly->Complete()) {
            break_used = broken_for_test = true;
            context->TryCancel();
          }
        }
        return {};
      case Kind::kTail:
        if (part.has_header() && !tail_started) {
          tail_started = true;
          tail.header = part.header();
          tail.first_byte.assign(part.header().files_size(), 0);
          tail.data.assign(part.header().files_size(), {});
        } else if (part.has_chunk()) {
          const v1::Chunk& c = part.chunk();
          if (!tail_started || c.file_index() >= tail.data.size()) {
            return {grpc::StatusCode::DATA_LOSS, "a chunk outside the asset"};
          }
          auto& buf = tail.data[c.file_index()];
          if (buf.empty()) tail.first_byte[c.file_index()] = c.offset();
          if (c.offset() != tail.first_byte[c.file_index()] + buf.size()) {
            return {grpc::StatusCode::DATA_LOSS, "a gap in the fetched tail"};
          }
          buf.insert(buf.end(), c.data().begin(), c.data().end());
        }
        return {};
      case Kind::kBatch: {
        const uint32_t i = part.request_index();
        if (i >= items.size()) return {grpc::StatusCode::DATA_LOSS, "a part for no request"};
        if (part.has_error()) {
          items[i].error = {static_cast<grpc::StatusCode>(part.error().code()),
                            part.error().message(), part.error().field()};
          answered[i] = true;
        } else if (part.has_header()) {
          current[i] = std::make_unique<Assembly>(part.header());
        } else if (part.has_chunk()) {
          auto it = current.find(i);
          if (it == current.end()) return {grpc::StatusCode::DATA_LOSS, "a chunk before its header"};
          Error e = it->second->Add(part.chunk());
          if (!e.ok()) return e;
          if (it->second->Complete()) {
            items[i].error = it->second->Finish(&items[i].asset);
            answered[i] = true;
            current.erase(it);
          }
        }
        return {};
      }
      case Kind::kModels:
        return {};
    }
    return {};
  }
};

// ---------------------------------------------------------------------------------------

Client::Client(ClientOptions options) : options_(std::move(options)) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(kMaxReceiveBytes);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, kKeepaliveMs);
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  channel_ = grpc::CreateCustomChannel(options_.address, grpc::InsecureChannelCredentials(), args);
  stub_ = v1::AssetService::NewStub(channel_);
}

Client::~Client() {
  closing_ = true;
  for (auto& [id, call] : calls_) {
    call->cancelled = true;
    call->context->TryCancel();
  }
  void* tag = nullptr;
  bool ok = false;
  while (!calls_.empty() && queue_.Next(&tag, &ok)) {
    if (Step(tag, ok)) calls_.erase(static_cast<Call*>(tag)->id);
  }
  queue_.Shutdown();
  while (queue_.Next(&tag, &ok)) {
  }
}

void Client::Prepare(grpc::ClientContext* context) const {
  if (options_.timeout.count() > 0) {
    context->set_deadline(std::chrono::system_clock::now() + options_.timeout);
  }
  if (!options_.token.empty()) context->AddMetadata("authorization", "Bearer " + options_.token);
}

CallId Client::Add(std::unique_ptr<Call> call) {
  const CallId id = call->id;
  calls_.emplace(id, std::move(call));
  return id;
}

CallId Client::ListModelsAsync(ModelsCallback done) {
  auto call = std::make_unique<Call>(Call::Kind::kModels, next_id_++);
  call->on_models = std::move(done);
  call->context = std::make_unique<grpc::ClientContext>();
  Prepare(call->context.get());
  call->unary = stub_->AsyncListModels(call->context.get(), v1::ListModelsRequest(), &queue_);
  call->state = Call::State::kFinishing;
  call->unary->Finish(&call->models, &call->status, call.get());
  return Add(std::move(call));
}

CallId Client::GenerateAsync(const v1::GenerateRequest& request, AssetCallback done,
                             ProgressCallback progress, FileCallback on_file) {
  auto call = std::make_unique<Call>(Call::Kind::kGenerate, next_id_++);
  call->on_asset = std::move(done);
  call->on_progress = std::move(progress);
  call->on_file = std::move(on_file);
  call->context = std::make_unique<grpc::ClientContext>();
  Prepare(call->context.get());
  call->reader = stub_->PrepareAsyncGenerate(call->context.get(), request, &queue_);
  call->reader->StartCall(call.get());
  return Add(std::move(call));
}

CallId Client::GenerateBatchAsync(const std::vector<v1::GenerateRequest>& requests,
                                  BatchCallback done) {
  auto call = std::make_unique<Call>(Call::Kind::kBatch, next_id_++);
  call->on_batch = std::move(done);
  call->items.resize(requests.size());
  call->answered.assign(requests.size(), false);
  v1::GenerateBatchRequest batch;
  for (const auto& r : requests) *batch.add_requests() = r;
  call->context = std::make_unique<grpc::ClientContext>();
  Prepare(call->context.get());
  call->reader = stub_->PrepareAsyncGenerateBatch(call->context.get(), batch, &queue_);
  call->reader->StartCall(call.get());
  return Add(std::move(call));
}

CallId Client::FetchAsync(const std::string& asset_id, AssetCallback done,
                          ProgressCallback progress) {
  auto call = std::make_unique<Call>(Call::Kind::kFetch, next_id_++);
  call->on_asset = std::move(done);
  call->on_progress = std::move(progress);
  v1::FetchRequest request;
  request.set_asset_id(asset_id);
  call->context = std::make_unique<grpc::ClientContext>();
  Prepare(call->context.get());
  call->reader = stub_->PrepareAsyncFetch(call->context.get(), request, &queue_);
  call->reader->StartCall(call.get());
  return Add(std::move(call));
}

CallId Client::FetchTailAsync(const std::string& asset_id, uint32_t file_index, uint64_t offset,
                              TailCallback done) {
  auto call = std::make_unique<Call>(Call::Kind::kTail, next_id_++);
  call->on_tail = std::move(done);
  v1::FetchRequest request;
  request.set_asset_id(asset_id);
  request.set_file_index(file_index);
  request.set_offset(offset);
  call->context = std::make_unique<grpc::ClientContext>();
  Prepare(call->context.get());
  call->reader = stub_->PrepareAsyncFetch(call->context.get(), request, &queue_);
  call->reader->StartCall(call.get());
  return Add(std::move(call));
}

void Client::Cancel(CallId id) {
  auto it = calls_.find(id);
  if (it == calls_.end()) return;
  it->second->cancelled = true;
  it->second->context->TryCancel();
}

bool Client::Step(void* tag, bool ok) {
  Call* c = static_cast<Call*>(tag);
  switch (c->state) {
    case Call::State::kStarting:
      if (ok) {
        c->state = Call::State::kReading;
        c->reader->Read(&c->part, c);
      } else {
        c->state = Call::State::kFinishing;
        c->reader->Finish(&c->status, c);
      }
      return false;
    case Call::State::kReading:
      if (!ok) {
        c->state = Call::State::kFinishing;
        c->reader->Finish(&c->status, c);
        return false;
      }
      if (c->failure.ok()) {
        Error e = c->OnPart(options_);
        if (!e.ok()) {
          c->failure = e;
          c->context->TryCancel();
        }
      }
      c->reader->Read(&c->part, c);
      return false;
    case Call::State::kFinishing:
      break;
  }

  // The call's final status is in: resume, or deliver.
  Error err = c->failure.ok() ? FromStatus(c->status) : c->failure;
  if (c->broken_for_test && err.code == grpc::StatusCode::CANCELLED && !c->cancelled) {
    err = {grpc::StatusCode::UNAVAILABLE, "stream broken (break_stream_after_chunks)"};
  }
  c->broken_for_test = false;
  const bool streams_one = c->kind == Call::Kind::kGenerate || c->kind == Call::Kind::kFetch;
  if (!err.ok() && streams_one && Resumable(err.code) && c->assembly && !c->cancelled &&
      c->attempts < options_.retries) {
    ++c->attempts;
    const auto [fi, off] = c->assembly->ResumePoint();
    v1::FetchRequest request;
    request.set_asset_id(c->assembly->header().asset_id());
    request.set_file_index(fi);
    request.set_offset(off);
    c->status = grpc::Status();
    c->context = std::make_unique<grpc::ClientContext>();
    Prepare(c->context.get());
    c->state = Call::State::kStarting;
    c->reader = stub_->PrepareAsyncFetch(c->context.get(), request, &queue_);
    c->reader->StartCall(c);
    return false;
  }
  if (closing_) return true;

  switch (c->kind) {
    case Call::Kind::kModels: {
      std::vector<v1::ModelInfo> models(c->models.models().begin(), c->models.models().end());
      if (c->on_models) c->on_models(err, std::move(models));
      break;
    }
    case Call::Kind::kGenerate:
    case Call::Kind::kFetch: {
      Asset asset;
      if (err.ok() && !c->assembly) {
        err = {grpc::StatusCode::DATA_LOSS, "the stream ended before a header"};
      }
      if (err.ok()) err = c->assembly->Finish(&asset);
      if (c->on_asset) c->on_asset(err, std::move(asset));
      break;
    }
    case Call::Kind::kTail:
      if (err.ok() && !c->tail_started) {
        err = {grpc::StatusCode::DATA_LOSS, "the stream ended before a header"};
      }
      if (c->on_tail) c->on_tail(err, std::move(c->tail));
      break;
    case Call::Kind::kBatch:
      if (err.ok()) {
        for (auto& [i, asm_] : c->current) {  // zero-byte tails, or a short stream
          c->items[i].error = asm_->Finish(&c->items[i].asset);
          c->answered[i] = true;
        }
        for (size_t i = 0; i < c->items.size(); ++i) {
          if (!c->answered[i]) c->items[i].error = {grpc::StatusCode::DATA_LOSS, "no answer"};
        }
      }
      if (c->on_batch) c->on_batch(err, std::move(c->items));
      break;
  }
  return true;
}

int Client::Tick() { return TickFor(std::chrono::milliseconds(0)); }

int Client::TickFor(std::chrono::milliseconds wait) {
  int finished = 0;
  auto deadline = std::chrono::system_clock::now() + wait;
  for (;;) {
    void* tag = nullptr;
    bool ok = false;
    auto r = queue_.AsyncNext(&tag, &ok, deadline);
    if (r != grpc::CompletionQueue::GOT_EVENT) break;
    if (Step(tag, ok)) {
      calls_.erase(static_cast<Call*>(tag)->id);
      ++finished;
    }
    deadline = std::chrono::system_clock::now();  // after the first event: only what is ready
  }
  return finished;
}

void Client::WaitFor(CallId id) {
  while (calls_.count(id)) TickFor(std::chrono::milliseconds(100));
}

Error Client::ListModels(std::vector<v1::ModelInfo>* models) {
  Error result;
  WaitFor(ListModelsAsync([&](const Error& e, std::vector<v1::ModelInfo> m) {
    result = e;
    *models = std::move(m);
  }));
  return result;
}

Error Client::Generate(const v1::GenerateRequest& request, Asset* asset) {
  Error result;
  WaitFor(GenerateAsync(request, [&](const Error& e, Asset a) {
    result = e;
    *asset = std::move(a);
  }));
  return result;
}

Error Client::GenerateBatch(const std::vector<v1::GenerateRequest>& requests,
                            std::vector<BatchItem>* items) {
  Error result;
  WaitFor(GenerateBatchAsync(requests, [&](const Error& e, std::vector<BatchItem> i) {
    result = e;
    *items = std::move(i);
  }));
  return result;
}

Error Client::Fetch(const std::string& asset_id, Asset* asset) {
  Error result;
  WaitFor(FetchAsync(asset_id, [&](const Error& e, Asset a) {
    result = e;
    *asset = std::move(a);
  }));
  return result;
}

Error Client::FetchTail(const std::string& asset_id, uint32_t file_index, uint64_t offset,
                        AssetTail* tail) {
  Error result;
  WaitFor(FetchTailAsync(asset_id, file_index, offset, [&](const Error& e, AssetTail t) {
    result = e;
    *tail = std::move(t);
  }));
  return result;
}

}  // namespace vitrine
