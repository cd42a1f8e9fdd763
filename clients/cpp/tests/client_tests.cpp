// ctest cases for the client core against a live `vitrine serve` (see CMakeLists.txt):
//   vitrine_client_tests CASE PORT_FILE
#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <string>
#include <thread>
#include <algorithm>

#include "vitrine/client.h"

namespace {

int failures = 0;

#define CHECK(cond)                                                                  \
  do {                                                                               \
    if (!(cond)) {                                                                   \
      std::cerr << __FILE__ << ":" << __LINE__ << ": CHECK failed: " #cond "\n";     \
      ++failures;                                                                    \
    }                                                                                \
  } while (0)
#define CHECK_OK(err)                                                                \
  do {                                                                               \
    const vitrine::Error& e_ = (err);                                                \
    if (!e_.ok()) {                                                                  \
      std::cerr << __FILE__ << ":" << __LINE__ << ": " << e_.ToString() << "\n";     \
      ++failures;                                                                    \
    }                                                                                \
  } while (0)

using vitrine::Asset;
using vitrine::Client;
using vitrine::ClientOptions;
using vitrine::Error;
using StatusCode = grpc::StatusCode;

std::string address;

ClientOptions Options() {
  ClientOptions o;
  o.address = address;
  o.timeout = std::chrono::seconds(120);
  return o;
}

// Size and SHA-256 of every file, recomputed here (the client verified them already).
void CheckAsset(const Asset& a) {
  CHECK(!a.asset_id().empty());
  CHECK(static_cast<int>(a.files.size()) == a.header.files_size());
  for (size_t i = 0; i < a.files.size(); ++i) {
    const auto& meta = a.header.files(static_cast<int>(i));
    CHECK(a.files[i].name == meta.name());
    CHECK(a.files[i].data.size() == meta.size_bytes());
    CHECK(vitrine::Sha256Hex(a.files[i].data.data(), a.files[i].data.size()) == meta.sha256());
    if (meta.mime_type() == "model/gltf-binary") {
      CHECK(a.files[i].data.size() > 12 && std::string(a.files[i].data.begin(),
                                                       a.files[i].data.begin() + 4) == "glTF");
    }
  }
}

vitrine::v1::GenerateRequest Small(const std::string& model, const std::string& category,
                                   uint64_t seed) {
  auto r = vitrine::MakeRequest(model, category, seed);
  if (model == "procedural") r.mutable_options()->set_max_triangles(2000);
  r.mutable_options()->set_texture_size(64);
  return r;
}

void Catalog() {
  Client c(Options());
  std::vector<vitrine::v1::ModelInfo> models;
  CHECK_OK(c.ListModels(&models));
  std::map<std::string, int> categories;
  for (const auto& m : models) categories[m.name()] = m.categories_size();
  CHECK(categories.count("procedural") && categories["procedural"] > 0);
  CHECK(categories.count("texture-gan") && categories["texture-gan"] > 0);
}

void EveryCategory() {
  Client c(Options());
  std::vector<vitrine::v1::ModelInfo> models;
  CHECK_OK(c.ListModels(&models));
  int n = 0;
  for (const auto& m : models) {
    for (const auto& category : m.categories()) {
      Asset a;
      Error e = c.Generate(Small(m.name(), category, 7), &a);
      CHECK_OK(e);
      if (!e.ok()) continue;
      CheckAsset(a);
      CHECK(a.header.model() == m.name() && a.header.category() == category);
      if (m.kind() == vitrine::v1::ASSET_KIND_PROP) CHECK(a.files.back().name == "lod0.glb");
      ++n;
    }
  }
  std::cout << n << " categories generated and verified\n";
  CHECK(n >= 13);
}

void BadModel() {
  Client c(Options());
  Asset a;
  Error e = c.Generate(vitrine::MakeRequest("no-such-model", "chair", 1), &a);
  CHECK(e.code == StatusCode::NOT_FOUND);
  CHECK(e.field == "model");
  CHECK(e.message.find("procedural") != std::string::npos);  // lists what exists
}

void BadCategory() {
  Client c(Options());
  Asset a;
  Error e = c.Generate(vitrine::MakeRequest("procedural", "spaceship", 1), &a);
  CHECK(e.code == StatusCode::NOT_FOUND);
  CHECK(e.field == "category");
}

void BadOption() {
  Client c(Options());
  auto r = vitrine::MakeRequest("procedural", "chair", 1);
  r.mutable_options()->set_max_triangles(5);
  Asset a;
  Error e = c.Generate(r, &a);
  CHECK(e.code == StatusCode::INVALID_ARGUMENT);
  CHECK(e.field == "options.max_triangles");
  CHECK(e.message.find("100") != std::string::npos);  // names the allowed range
  // An option the model does not accept names that field.
  auto t = vitrine::MakeRequest("texture-gan", "brick", 1);
  t.mutable_options()->set_max_triangles(1000);
  e = c.Generate(t, &a);
  CHECK(e.code == StatusCode::INVALID_ARGUMENT);
  CHECK(e.field == "options.max_triangles");
}

void Batch() {
  Client c(Options());
  std::vector<vitrine::v1::GenerateRequest> rs = {Small("procedural", "vase", 3),
                                                  Small("procedural", "spaceship", 3),
                                                  Small("texture-gan", "wood", 3)};
  std::vector<vitrine::BatchItem> items;
  CHECK_OK(c.GenerateBatch(rs, &items));
  CHECK(items.size() == 3);
  if (items.size() != 3) return;
  CHECK_OK(items[0].error);
  CheckAsset(items[0].asset);
  CHECK(items[1].error.code == StatusCode::NOT_FOUND);
  CHECK(items[1].error.field == "requests[1].category");
  CHECK_OK(items[2].error);
  CheckAsset(items[2].asset);
  // The same request alone gives the same id and bytes.
  Asset alone;
  CHECK_OK(c.Generate(rs[0], &alone));
  CHECK(alone.asset_id() == items[0].asset.asset_id());
  CHECK(alone.files.back().data == items[0].asset.files.back().data);
}

void FetchById() {
  Client c(Options());
  Asset a, b;
  CHECK_OK(c.Generate(Small("texture-gan", "marble", 11), &a));
  CHECK_OK(c.Fetch(a.asset_id(), &b));
  CheckAsset(b);
  CHECK(b.asset_id() == a.asset_id() && b.files.size() == a.files.size());
  for (size_t i = 0; i < a.files.size() && i < b.files.size(); ++i) {
    CHECK(a.files[i].data == b.files[i].data);
  }
  Error e = c.Fetch("0123456789abcdef0123456789abcdef", &b);
  CHECK(e.code == StatusCode::NOT_FOUND);
}

void ResumeFromOffset() {
  Client c(Options());
  Asset a;
  CHECK_OK(c.Generate(Small("procedural", "table", 5), &a));
  CHECK(a.files.size() >= 2);
  if (a.files.size() < 2) return;
  const uint64_t offset = a.files[1].data.size() / 3;
  vitrine::AssetTail tail;
  CHECK_OK(c.FetchTail(a.asset_id(), 1, offset, &tail));
  CHECK(tail.data.size() == a.files.size());
  if (tail.data.size() != a.files.size()) return;
  CHECK(tail.data[0].empty());
  CHECK(tail.first_byte[1] == offset);
  CHECK(std::equal(tail.data[1].begin(), tail.data[1].end(), a.files[1].data.begin() + offset) &&
        tail.data[1].size() == a.files[1].data.size() - offset);
  for (size_t i = 2; i < a.files.size(); ++i) CHECK(tail.data[i] == a.files[i].data);
  // Out of range: INVALID_ARGUMENT naming the field.
  Error e = c.FetchTail(a.asset_id(), 1, a.files[1].data.size() + 1, &tail);
  CHECK(e.code == StatusCode::INVALID_ARGUMENT && e.field == "offset");
  e = c.FetchTail(a.asset_id(), 99, 0, &tail);
  CHECK(e.code == StatusCode::INVALID_ARGUMENT && e.field == "file_index");
}

void ResumeBrokenStream() {
  // Every stream breaks after 3 chunks (a dropped connection, as the client sees it); the
  // client resumes with Fetch from the first missing byte and still delivers verified files.
  ClientOptions o = Options();
  o.break_stream_after_chunks = 3;
  Client c(o);
  Asset broken;
  auto r = vitrine::MakeRequest("procedural", "chair", 21);  // default size: ~2.7 MB, 11 chunks
  CHECK_OK(c.Generate(r, &broken));
  CheckAsset(broken);
  Client plain(Options());
  Asset whole;
  CHECK_OK(plain.Generate(r, &whole));
  CHECK(whole.asset_id() == broken.asset_id());
  for (size_t i = 0; i < whole.files.size() && i < broken.files.size(); ++i) {
    CHECK(whole.files[i].data == broken.files[i].data);
  }
  // No resumes allowed: the break surfaces as UNAVAILABLE.
  o.retries = 0;
  Client strict(o);
  Error e = strict.Generate(r, &broken);
  CHECK(e.code == StatusCode::UNAVAILABLE);
}

void CancelMidStream() {
  Client c(Options());
  Error result;
  bool done = false;
  uint64_t seen = 0, total = 0;
  vitrine::CallId id = 0;
  id = c.GenerateAsync(
      vitrine::MakeRequest("procedural", "bench", 99),  // default size: several chunks
      [&](const Error& e, Asset) {
        result = e;
        done = true;
      },
      [&](uint64_t got, uint64_t all) {
        seen = got;
        total = all;
        c.Cancel(id);  // from inside a callback, on the first chunk
      });
  while (!done) c.TickFor(std::chrono::milliseconds(50));
  CHECK(result.code == StatusCode::CANCELLED);
  CHECK(seen > 0 && seen < total);
  CHECK(c.InFlight() == 0);
  // The client goes on working after a cancel.
  Asset a;
  CHECK_OK(c.Generate(Small("procedural", "lamp", 2), &a));
  // Cancel before anything arrived; and a client destroyed with calls in flight.
  Error early;
  bool early_done = false;
  auto id2 = c.GenerateAsync(Small("procedural", "lamp", 3), [&](const Error& e, Asset) {
    early = e;
    early_done = true;
  });
  c.Cancel(id2);
  while (!early_done) c.TickFor(std::chrono::milliseconds(50));
  CHECK(early.code == StatusCode::CANCELLED);
  {
    Client doomed(Options());
    bool ran = false;
    doomed.GenerateAsync(Small("procedural", "lamp", 4), [&](const Error&, Asset) { ran = true; });
    doomed.Tick();
    (void)ran;
  }
}

void OptionsFromText() {
  auto r = vitrine::MakeRequest("procedural", "chair", 1);
  CHECK_OK(vitrine::SetOption(&r, "max_triangles", "2000"));
  CHECK_OK(vitrine::SetOption(&r, "size_m", "1.25"));
  CHECK_OK(vitrine::SetOption(&r, "pivot", "center"));
  CHECK_OK(vitrine::SetOption(&r, "material", "marble"));
  CHECK_OK(vitrine::SetOption(&r, "morph_seed", "18446744073709551615"));
  CHECK(r.options().has_max_triangles() && r.options().max_triangles() == 2000);
  CHECK(r.options().size_m() == 1.25f);
  CHECK(r.options().pivot() == vitrine::v1::PIVOT_CENTER);
  CHECK(r.options().material() == "marble");
  CHECK(r.options().morph_seed() == 18446744073709551615ULL);
  CHECK(!r.options().has_lod_count());
  auto t = vitrine::MakeRequest("texture-gan", "wood", 1);
  CHECK_OK(vitrine::SetOption(&t, "normal_convention", "NORMAL_CONVENTION_DIRECTX"));
  CHECK(t.options().normal_convention() == vitrine::v1::NORMAL_CONVENTION_DIRECTX);
  CHECK_OK(vitrine::SetOption(&t, "skeleton", "vrm"));
  CHECK(t.options().skeleton() == vitrine::v1::SKELETON_VRM);
  Error e = vitrine::SetOption(&r, "max_triangels", "5");
  CHECK(e.code == StatusCode::INVALID_ARGUMENT && e.field == "options.max_triangels");
  CHECK(e.message.find("max_triangles") != std::string::npos);  // lists the real names
  e = vitrine::SetOption(&r, "lod_count", "-1");
  CHECK(e.code == StatusCode::INVALID_ARGUMENT && e.field == "options.lod_count");
  e = vitrine::SetOption(&r, "lod_count", "4294967296");
  CHECK(e.code == StatusCode::INVALID_ARGUMENT);
  e = vitrine::SetOption(&r, "size_m", "big");
  CHECK(e.code == StatusCode::INVALID_ARGUMENT);
  e = vitrine::SetOption(&r, "pivot", "sideways");
  CHECK(e.code == StatusCode::INVALID_ARGUMENT && e.message.find("PIVOT_CENTER") != std::string::npos);
  e = vitrine::SetOption(&r, "pivot", "unspecified");
  CHECK(e.code == StatusCode::INVALID_ARGUMENT);
  // The server takes what SetOption made.
  Client c(Options());
  Asset a;
  CHECK_OK(vitrine::SetOption(&r, "texture_size", "64"));
  r.mutable_options()->clear_morph_seed();  // procedural does not take it
  CHECK_OK(c.Generate(r, &a));
  CheckAsset(a);
}

void Deadline() {
  ClientOptions o = Options();
  o.timeout = std::chrono::milliseconds(1);
  Client c(o);
  Asset a;
  // A fresh seed and the full-size default, so no cache hit can beat 1 ms.
  Error e = c.Generate(vitrine::MakeRequest("procedural", "column", 123457), &a);
  CHECK(e.code == StatusCode::DEADLINE_EXCEEDED);
}

void AsyncTick() {
  // Several calls in flight at once, all driven by a "game loop" of Tick() calls; callbacks run
  // only inside Tick (never on gRPC's threads).
  Client c(Options());
  int finished = 0, inside = 0;
  bool ticking = false;
  std::vector<std::string> ids(4);
  auto check_thread = [&] { inside += ticking ? 1 : 0; };
  const char* categories[] = {"brick", "grass", "gravel", "stone"};
  for (int k = 0; k < 4; ++k) {
    c.GenerateAsync(Small("texture-gan", categories[k], 40 + k), [&, k](const Error& e, Asset a) {
      check_thread();
      CHECK_OK(e);
      CheckAsset(a);
      ids[k] = a.asset_id();
      ++finished;
    });
  }
  c.ListModelsAsync([&](const Error& e, std::vector<vitrine::v1::ModelInfo> m) {
    check_thread();
    CHECK_OK(e);
    CHECK(!m.empty());
    ++finished;
  });
  CHECK(c.InFlight() == 5);
  int frames = 0;
  while (finished < 5 && frames < 100000) {
    ticking = true;
    c.Tick();
    ticking = false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    ++frames;
  }
  CHECK(finished == 5);
  CHECK(inside == 5);
  CHECK(frames > 1);
  CHECK(c.InFlight() == 0);
  for (int k = 0; k < 4; ++k) CHECK(!ids[k].empty());
}

void Progressive() {
  // A progressive miss: each verified file is handed over as it arrives, coarsest first; the
  // asset is the one a plain Generate returns (then a cache hit, its header listing every file).
  Client c(Options());
  auto req = Small("procedural", "table", 8101);
  req.set_progressive(true);
  std::vector<std::string> names;
  Asset progressive;
  Error result;
  bool done = false;
  c.GenerateAsync(
      req,
      [&](const Error& e, Asset a) {
        result = e;
        progressive = std::move(a);
        done = true;
      },
      {},
      [&](const vitrine::File& f) {
        CHECK(!done);  // before the whole asset
        names.push_back(f.name);
        CHECK(f.data.size() > 12 && std::string(f.data.begin(), f.data.begin() + 4) == "glTF");
      });
  while (!done) c.TickFor(std::chrono::milliseconds(100));
  CHECK_OK(result);
  CheckAsset(progressive);
  CHECK((names == std::vector<std::string>{"lod2.glb", "lod1.glb", "lod0.glb"}));
  CHECK(progressive.header.file_count() == 3 && progressive.header.files_size() == 3);
  Asset plain;
  CHECK_OK(c.Generate(Small("procedural", "table", 8101), &plain));
  CHECK(plain.header.timings().cache_hit() && plain.asset_id() == progressive.asset_id());
  for (size_t i = 0; i < plain.files.size(); ++i) {
    CHECK(plain.files[i].data == progressive.files[i].data);
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: vitrine_client_tests CASE PORT_FILE\n";
    return 2;
  }
  std::string port;
  std::ifstream(argv[2]) >> port;
  if (port.empty()) {
    std::cerr << "no port in " << argv[2] << "\n";
    return 2;
  }
  address = "127.0.0.1:" + port;
  const std::map<std::string, std::function<void()>> cases = {
      {"catalog", Catalog},
      {"every_category", EveryCategory},
      {"bad_model", BadModel},
      {"bad_category", BadCategory},
      {"bad_option", BadOption},
      {"batch", Batch},
      {"fetch", FetchById},
      {"resume_from_offset", ResumeFromOffset},
      {"resume_broken_stream", ResumeBrokenStream},
      {"cancel_mid_stream", CancelMidStream},
      {"deadline", Deadline},
      {"options_from_text", OptionsFromText},
      {"async_tick", AsyncTick},
      {"progressive", Progressive},
  };
  auto it = cases.find(argv[1]);
  if (it == cases.end()) {
    std::cerr << "unknown case " << argv[1] << "\n";
    return 2;
  }
  const auto start = std::chrono::steady_clock::now();
  it->second();
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now() - start)
                      .count();
  std::cout << argv[1] << ": " << (failures ? "FAILED" : "ok") << " (" << ms << " ms)\n";
  return failures ? 1 : 0;
}
