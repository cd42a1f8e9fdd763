// vitrine_cpp_example: the client core from a command line.
//   vitrine_cpp_example [--address HOST:PORT] models
//   vitrine_cpp_example [--address HOST:PORT] generate MODEL CATEGORY [SEED] [OUT_DIR] [NAME=VALUE...]
//   vitrine_cpp_example [--address HOST:PORT] conformance < requests.jsonl
// `conformance` reads one GenerateRequest per line (proto3 JSON) and prints, per request, one
// JSON line {"asset_id": ..., "files": {name: sha256}} or {"error": CODE, "field": ...}.
#include <google/protobuf/util/json_util.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <string>

#include "vitrine/client.h"

namespace {

int Usage() {
  std::cerr << "usage: vitrine_cpp_example [--address HOST:PORT] models | generate MODEL "
               "CATEGORY [SEED] [OUT_DIR] [NAME=VALUE...] | conformance < requests.jsonl\n";
  return 2;
}

std::string Quote(const std::string& s) {
  std::string q = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') q += '\\';
    q += c;
  }
  return q + "\"";
}

}  // namespace

int main(int argc, char** argv) {
  vitrine::ClientOptions options;
  int i = 1;
  if (i + 1 < argc && std::string(argv[i]) == "--address") {
    options.address = argv[i + 1];
    i += 2;
  }
  if (i >= argc) return Usage();
  const std::string verb = argv[i++];
  vitrine::Client client(options);

  if (verb == "models") {
    std::vector<vitrine::v1::ModelInfo> models;
    vitrine::Error e = client.ListModels(&models);
    if (!e.ok()) {
      std::cerr << e.ToString() << "\n";
      return 3;
    }
    for (const auto& m : models) {
      std::cout << m.name() << " " << m.version() << ":";
      for (const auto& c : m.categories()) std::cout << " " << c;
      std::cout << "\n";
    }
    return 0;
  }
  if (verb == "generate") {
    std::vector<std::string> positional, settings;
    for (; i < argc; ++i) (std::strchr(argv[i], '=') ? settings : positional).push_back(argv[i]);
    if (positional.size() < 2) return Usage();
    auto request = vitrine::MakeRequest(positional[0], positional[1],
                                        positional.size() > 2 ? std::stoull(positional[2]) : 0);
    const std::string out = positional.size() > 3 ? positional[3] : "";
    for (const std::string& s : settings) {  // name=value, e.g. max_triangles=2000 pivot=center
      const size_t eq = s.find('=');
      vitrine::Error e = vitrine::SetOption(&request, s.substr(0, eq), s.substr(eq + 1));
      if (!e.ok()) {
        std::cerr << e.ToString() << "\n";
        return 2;
      }
    }
    // The asynchronous API, ticked as a game loop would; the blocking Generate() does this.
    bool done = false;
    int status = 0;
    client.GenerateAsync(
        request,
        [&](const vitrine::Error& e, vitrine::Asset asset) {
          done = true;
          if (!e.ok()) {
            std::cerr << e.ToString() << (e.field.empty() ? "" : " [field " + e.field + "]")
                      << "\n";
            status = 1;
            return;
          }
          std::cout << asset.asset_id() << " seed " << asset.header.seed() << "\n";
          for (const auto& f : asset.files) {
            std::cout << "  " << f.name << " " << f.data.size() << " bytes\n";
            if (!out.empty()) {
              std::ofstream(out + "/" + f.name, std::ios::binary)
                  .write(reinterpret_cast<const char*>(f.data.data()),
                         static_cast<std::streamsize>(f.data.size()));
            }
          }
        },
        [](uint64_t got, uint64_t total) { std::cerr << "\r" << got << " / " << total; });
    while (!done) client.TickFor(std::chrono::milliseconds(16));  // one "frame"
    std::cerr << "\n";
    return status;
  }
  if (verb == "conformance") {
    std::string line;
    while (std::getline(std::cin, line)) {
      if (line.empty()) continue;
      vitrine::v1::GenerateRequest request;
      if (!google::protobuf::util::JsonStringToMessage(line, &request).ok()) {
        std::cerr << "not a GenerateRequest: " << line << "\n";
        return 2;
      }
      vitrine::Asset asset;
      vitrine::Error e = client.Generate(request, &asset);
      if (!e.ok()) {
        std::cout << "{\"error\": " << Quote(vitrine::Error::CodeName(e.code))
                  << ", \"field\": " << Quote(e.field) << "}\n";
        continue;
      }
      std::cout << "{\"asset_id\": " << Quote(asset.asset_id()) << ", \"files\": {";
      for (size_t k = 0; k < asset.files.size(); ++k) {
        const auto& f = asset.files[k];
        std::cout << (k ? ", " : "") << Quote(f.name) << ": "
                  << Quote(vitrine::Sha256Hex(f.data.data(), f.data.size()));
      }
      std::cout << "}}\n" << std::flush;
    }
    return 0;
  }
  return Usage();
}
