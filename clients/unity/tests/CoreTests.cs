// NUnit 2.6 tests of the Unity package's C# core (Runtime/Core) under Mono, against a live
// vitrine HTTP face: VITRINE_HTTP_URL (e.g. http://127.0.0.1:8080) and, for the shared
// conformance table, VITRINE_CONFORMANCE (tests/conformance.json). tests/test_csharp_client.py
// builds and runs them; they are kept outside the package so Unity does not import them.
using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Threading;
using NUnit.Framework;
using Vitrine.Client;

namespace Vitrine.Client.Tests
{
    [TestFixture]
    public class CoreTests
    {
        string url;
        string cacheDir;

        [TestFixtureSetUp]
        public void Start()
        {
            url = Environment.GetEnvironmentVariable("VITRINE_HTTP_URL");
            Assert.IsNotNull(url, "set VITRINE_HTTP_URL to a vitrine HTTP face");
            cacheDir = Path.Combine(Path.GetTempPath(), "vitrine-cs-" + Guid.NewGuid().ToString("N"));
        }

        [TestFixtureTearDown]
        public void Stop()
        {
            if (Directory.Exists(cacheDir)) Directory.Delete(cacheDir, true);
        }

        static GenerateRequest Small(string model, string category, ulong seed)
        {
            var r = new GenerateRequest(model, category, seed).With("texture_size", 64u);
            if (model == "procedural") r.With("max_triangles", 2000u);
            return r;
        }

        static void AssertVerified(Asset a)
        {
            Assert.AreEqual(a.Header.Files.Count, a.Files.Count);
            foreach (var f in a.Files)
            {
                Assert.AreEqual(f.Info.SizeBytes, f.Data.LongLength, f.Name);
                Assert.AreEqual(f.Info.Sha256, AssetAssembly.Sha256Hex(f.Data), f.Name);
                if (f.Info.MimeType == "model/gltf-binary")
                    Assert.AreEqual("glTF", System.Text.Encoding.ASCII.GetString(f.Data, 0, 4));
            }
        }

        [Test]
        public void EveryCategoryOfEveryModelIsGeneratedAndVerified()
        {
            using (var client = new VitrineClient(url))
            {
                var models = client.ListModelsAsync().Result;
                CollectionAssert.IsSubsetOf(new[] { "procedural", "texture-gan" }, models.Select(m => m.Name).ToList());
                int n = 0;
                foreach (var m in models)
                    foreach (var c in m.Categories)
                    {
                        var a = client.GenerateAsync(Small(m.Name, c, 5)).Result;
                        AssertVerified(a);
                        Assert.AreEqual(c, a.Header.Category);
                        if (m.Kind == "ASSET_KIND_PROP") Assert.AreEqual("lod0.glb", a.FinestGlb().Name);
                        n++;
                    }
                Assert.GreaterOrEqual(n, 13);
                var proc = models.First(m => m.Name == "procedural");
                var tri = proc.Options.First(o => o.Name == "max_triangles");
                Assert.AreEqual(100.0, tri.Min);
                Assert.AreEqual("20000", tri.DefaultValue);
            }
        }

        static VitrineException Refusal(VitrineClient client, GenerateRequest r)
        {
            var e = Assert.Throws<AggregateException>(() => client.GenerateAsync(r).Wait());
            Assert.IsInstanceOf<VitrineException>(e.InnerException);
            return (VitrineException)e.InnerException;
        }

        [Test]
        public void BadInputsAreRefusedWithCodeAndField()
        {
            using (var client = new VitrineClient(url))
            {
                var e = Refusal(client, new GenerateRequest("no-such-model", "chair", 1));
                Assert.AreEqual("NOT_FOUND", e.Code);
                Assert.AreEqual("model", e.Field);
                Assert.AreEqual(404, e.HttpStatus);
                StringAssert.Contains("procedural", e.Detail);
                e = Refusal(client, new GenerateRequest("procedural", "chair", 1).With("max_triangles", 5u));
                Assert.AreEqual("INVALID_ARGUMENT", e.Code);
                Assert.AreEqual("options.max_triangles", e.Field);
                StringAssert.Contains("100", e.Detail);
                e = Refusal(client, new GenerateRequest("procedural", "chair", 1).With("pivot", "PIVOT_SIDEWAYS"));
                Assert.AreEqual("INVALID_ARGUMENT", e.Code);
            }
        }

        [Test]
        public void ABrokenDownloadResumesWithRangeAndGivesTheSameBytes()
        {
            var r = new GenerateRequest("procedural", "chair", 21);  // default size: ~2.7 MB
            Asset whole;
            using (var plain = new VitrineClient(url)) whole = plain.GenerateAsync(r).Result;
            var breaking = new SystemNetHttpTransport(TimeSpan.FromSeconds(120)) { BreakBodyAfterBytes = 300000 };
            using (var client = new VitrineClient(url, breaking) { Retries = 10 })
            {
                var a = client.GenerateAsync(r).Result;
                AssertVerified(a);
                Assert.AreEqual(whole.AssetId, a.AssetId);
                Assert.Greater(client.Resumes, 3);
                for (int i = 0; i < a.Files.Count; i++) CollectionAssert.AreEqual(whole.Files[i].Data, a.Files[i].Data);
                client.Retries = 1;  // lod0 (~1.9 MB) needs 6 resumes at 300 kB each
                var e = Assert.Throws<AggregateException>(() => client.FetchAsync(a.AssetId).Wait());
                Assert.AreEqual("UNAVAILABLE", ((VitrineException)e.InnerException).Code);
            }
            breaking.Dispose();
        }

        [Test]
        public void TheCacheServesAnAssetByIdWithoutDownloadingAndDropsACorruptFile()
        {
            var cache = new AssetCache(cacheDir);
            using (var client = new VitrineClient(url, null, cache))
            {
                var a = client.GenerateAsync(Small("texture-gan", "wood", 9)).Result;
                Assert.AreEqual(4, client.Downloads);
                var b = client.FetchAsync(a.AssetId).Result;
                Assert.AreEqual(4, client.Downloads);  // all from the cache, header too
                AssertVerified(b);
                string png = Path.Combine(Path.Combine(cacheDir, a.AssetId), "normal.png");
                var bytes = File.ReadAllBytes(png);
                bytes[bytes.Length / 2] ^= 0xff;
                File.WriteAllBytes(png, bytes);
                var c = client.FetchAsync(a.AssetId).Result;
                Assert.AreEqual(5, client.Downloads);  // only the corrupt file again
                CollectionAssert.AreEqual(a.Find("normal.png").Data, c.Find("normal.png").Data);
            }
        }

        [Test]
        public void FetchByIdMatchesAndAnUnknownIdIsNotFound()
        {
            using (var client = new VitrineClient(url))
            {
                var a = client.GenerateAsync(Small("procedural", "vase", 3)).Result;
                var b = client.FetchAsync(a.AssetId).Result;
                AssertVerified(b);
                Assert.AreEqual(a.AssetId, b.AssetId);
                var e = Assert.Throws<AggregateException>(() => client.FetchAsync("0123456789abcdef0123456789abcdef").Wait());
                Assert.AreEqual("NOT_FOUND", ((VitrineException)e.InnerException).Code);
                StringAssert.EndsWith("/v1/assets/" + a.AssetId + "/lod0.glb", client.FileUrl(a.AssetId, "lod0.glb"));
            }
        }

        [Test]
        public void ACancelledCallEndsWithCancelled()
        {
            using (var client = new VitrineClient(url))
            using (var cancel = new CancellationTokenSource())
            {
                cancel.Cancel();
                var e = Assert.Throws<AggregateException>(
                    () => client.GenerateAsync(Small("procedural", "lamp", 8), cancel.Token).Wait());
                Assert.AreEqual("CANCELLED", ((VitrineException)e.InnerException).Code);
            }
        }

        [Test]
        public void A429IsWaitedOutAsItsRetryAfterSays()
        {
            // VITRINE_LIMITED_HTTP_URL: a server allowing 1 call per second per client.
            string limited = Environment.GetEnvironmentVariable("VITRINE_LIMITED_HTTP_URL");
            Assert.IsNotNull(limited, "set VITRINE_LIMITED_HTTP_URL");
            using (var client = new VitrineClient(limited))
            {
                for (int i = 0; i < 3; i++) Assert.IsNotEmpty(client.ListModelsAsync().Result);
                Assert.GreaterOrEqual(client.RateLimited, 1);
                client.Retries = 0;
                var e = Assert.Throws<AggregateException>(() => { client.ListModelsAsync().Wait(); client.ListModelsAsync().Wait(); });
                var v = (VitrineException)e.InnerException;
                Assert.AreEqual("RESOURCE_EXHAUSTED", v.Code);
                Assert.AreEqual(429, v.HttpStatus);
            }
        }

        [Test]
        public void AnUnreachableServerIsUnavailable()
        {
            using (var client = new VitrineClient("http://127.0.0.1:9"))
            {
                var e = Assert.Throws<AggregateException>(() => client.ListModelsAsync().Wait());
                Assert.AreEqual("UNAVAILABLE", ((VitrineException)e.InnerException).Code);
            }
        }

        [Test]
        public void TheHumanoidBoneTableIsTheRigs()
        {
            // VITRINE_BONE_TABLE: generators/humanoid/rig.py bone_table() as JSON rows.
            string path = Environment.GetEnvironmentVariable("VITRINE_BONE_TABLE");
            Assert.IsNotNull(path, "set VITRINE_BONE_TABLE");
            var rows = (List<object>)Json.Parse(File.ReadAllText(path));
            Assert.AreEqual(rows.Count, HumanoidBones.Table.Length);
            for (int i = 0; i < rows.Count; i++)
                CollectionAssert.AreEqual(((List<object>)rows[i]).Cast<string>().ToArray(), HumanoidBones.Table[i]);
            var map = HumanoidBones.HumanBoneMap();
            Assert.AreEqual("LeftUpperArm", map["leftUpperArm"]);
            Assert.AreEqual("LeftUpperArm", map["upperarm_l"]);
            Assert.AreEqual("Hips", map["mixamorig:Hips"]);
            Assert.IsFalse(map.ContainsKey("Root"));
            Assert.AreEqual(52, map.Values.Distinct().Count());
        }

        // The shared table (tests/conformance.json) that the Python, Node and C++ clients run too.
        [Test, Category("conformance")]
        public void ConformanceTable()
        {
            string path = Environment.GetEnvironmentVariable("VITRINE_CONFORMANCE");
            Assert.IsNotNull(path, "set VITRINE_CONFORMANCE to tests/conformance.json");
            var table = (Dictionary<string, object>)Json.Parse(File.ReadAllText(path));
            var cases = Wire.Arr(table, "cases");
            Assert.Greater(cases.Count, 0);
            using (var client = new VitrineClient(url))
            {
                foreach (var o in cases)
                {
                    var c = (Dictionary<string, object>)o;
                    var r = new GenerateRequest(Wire.Str(c, "model"), Wire.Str(c, "category"), Wire.U64(c, "seed"));
                    var opts = Wire.Obj(c, "options");
                    if (opts != null) foreach (var kv in opts) r.Options[kv.Key] = kv.Value;
                    var a = client.GenerateAsync(r).Result;
                    string label = Wire.Str(c, "model") + "/" + Wire.Str(c, "category");
                    Assert.AreEqual(Wire.Str(c, "asset_id"), a.AssetId, label);
                    var files = Wire.Obj(c, "files");
                    Assert.AreEqual(files.Keys.ToList(), a.Files.Select(f => f.Name).ToList(), label);
                    foreach (var f in a.Files) Assert.AreEqual(files[f.Name], AssetAssembly.Sha256Hex(f.Data), label + " " + f.Name);
                }
            }
        }
    }
}
