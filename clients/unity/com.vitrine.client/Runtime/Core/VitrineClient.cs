// The client over vitrine's HTTP face (server/http.py): the catalog, generation, and each file
// downloaded with a resumable Range request, verified against its size and SHA-256 (also the
// file's ETag), and kept in an optional AssetCache keyed by asset id.
//
//   var client = new VitrineClient("http://127.0.0.1:8080");
//   Asset chair = await client.GenerateAsync(new GenerateRequest("procedural", "chair", 7));
//   byte[] glb = chair.FinestGlb().Data;   // -> glTFast GltfImport.Load(glb)
using System;
using System.Collections.Generic;
using System.Globalization;
using System.Threading;
using System.Threading.Tasks;

namespace Vitrine.Client
{
    public sealed class VitrineClient : IDisposable
    {
        readonly string baseUrl;
        readonly IHttpTransport transport;
        readonly bool ownsTransport;

        /// <summary>Range-resumes of one broken file download; also retries after a 429.</summary>
        public int Retries = 3;
        /// <summary>Sent as "Authorization: Bearer ..." when the server has --auth-tokens.</summary>
        public string Token;
        /// <summary>Where verified files are kept; null = no cache.</summary>
        public AssetCache Cache;
        /// <summary>Files actually downloaded (not served from the cache), for tests and stats.</summary>
        public int Downloads { get; private set; }
        /// <summary>Requests repeated after a 429 (the server's rate limit) and its Retry-After.</summary>
        public int RateLimited { get; private set; }
        /// <summary>Range requests made to resume broken downloads.</summary>
        public int Resumes { get; private set; }

        /// <param name="baseUrl">The HTTP face, e.g. "http://127.0.0.1:8080" (`vitrine serve
        /// --http-address`).</param>
        /// <param name="transport">null: System.Net.Http with a 300 s timeout.</param>
        public VitrineClient(string baseUrl, IHttpTransport transport = null, AssetCache cache = null)
        {
            this.baseUrl = baseUrl.TrimEnd('/');
            ownsTransport = transport == null;
            this.transport = transport ?? new SystemNetHttpTransport(TimeSpan.FromSeconds(300));
            Cache = cache;
        }

        public string BaseUrl { get { return baseUrl; } }

        /// <summary>The URL of one file, for loaders that take URLs (glTFast Load(url),
        /// glTFRuntime, a browser).</summary>
        public string FileUrl(string assetId, string fileName)
        {
            return baseUrl + "/v1/assets/" + Uri.EscapeDataString(assetId) + "/" + Uri.EscapeDataString(fileName);
        }

        public async Task<List<ModelInfo>> ListModelsAsync(CancellationToken cancel = default(CancellationToken))
        {
            var doc = await JsonAsync("GET", "/v1/models", null, cancel).ConfigureAwait(false);
            var models = new List<ModelInfo>();
            foreach (var m in Wire.Arr(doc, "models")) models.Add(Wire.Model((Dictionary<string, object>)m));
            return models;
        }

        /// <summary>Generates one asset (or finds it in the server's cache) and downloads every
        /// file, verified.</summary>
        public async Task<Asset> GenerateAsync(GenerateRequest request, CancellationToken cancel = default(CancellationToken))
        {
            var doc = await JsonAsync("POST", "/v1/generate", Utf8.Bytes(request.ToJson()), cancel).ConfigureAwait(false);
            return await DownloadAsync(doc, cancel).ConfigureAwait(false);
        }

        /// <summary>Only the header of a generated asset (files listed, not downloaded).</summary>
        public async Task<AssetHeader> GenerateHeaderAsync(GenerateRequest request, CancellationToken cancel = default(CancellationToken))
        {
            var doc = await JsonAsync("POST", "/v1/generate", Utf8.Bytes(request.ToJson()), cancel).ConfigureAwait(false);
            return Wire.Header(Wire.Obj(doc, "header"));
        }

        /// <summary>An asset generated before, by id: from the cache when every file is there
        /// and intact, else from the server.</summary>
        public async Task<Asset> FetchAsync(string assetId, CancellationToken cancel = default(CancellationToken))
        {
            string cached = Cache != null ? Cache.TryGetHeaderJson(assetId) : null;
            Dictionary<string, object> doc = cached != null
                ? (Dictionary<string, object>)Json.Parse(cached)
                : await JsonAsync("GET", "/v1/assets/" + Uri.EscapeDataString(assetId), null, cancel).ConfigureAwait(false);
            return await DownloadAsync(doc, cancel).ConfigureAwait(false);
        }

        async Task<Asset> DownloadAsync(Dictionary<string, object> doc, CancellationToken cancel)
        {
            var header = Wire.Header(Wire.Obj(doc, "header"));
            using (var assembly = new AssetAssembly(header))
            {
                for (int i = 0; i < header.Files.Count; i++)
                {
                    byte[] cached = Cache != null ? Cache.TryGet(header.AssetId, header.Files[i]) : null;
                    if (cached != null)
                        assembly.Add(i, 0, cached, 0, cached.Length);
                    else
                        await DownloadFileAsync(assembly, i, cancel).ConfigureAwait(false);
                }
                Asset asset = assembly.Finish();
                if (Cache != null)
                {
                    foreach (var f in asset.Files) Cache.Put(header.AssetId, f);
                    Cache.PutHeaderJson(header.AssetId, Json.Serialize(doc));
                }
                return asset;
            }
        }

        // One file, resumed with `Range: bytes=N-` + `If-Range: <etag>` after a broken body.
        async Task DownloadFileAsync(AssetAssembly assembly, int index, CancellationToken cancel)
        {
            var info = assembly.Header.Files[index];
            string etag = "\"" + info.Sha256 + "\"";
            int attempts = 0;
            Downloads++;
            while (!assembly.FileComplete(index))
            {
                long from = assembly.Received(index);
                var request = new HttpRequest { Url = FileUrl(assembly.Header.AssetId, info.Name) };
                if (from > 0)
                {
                    request.Headers["Range"] = "bytes=" + from.ToString(CultureInfo.InvariantCulture) + "-";
                    request.Headers["If-Range"] = etag;
                    Resumes++;
                }
                var reply = await SendAsync(request, cancel).ConfigureAwait(false);
                if (reply.Status >= 400) throw ErrorOf(reply);
                string got = reply.Header("ETag");
                if (got != null && got != etag)
                    throw new VitrineException("DATA_LOSS", info.Name + ": ETag " + got + " is not the header's sha256");
                long start = 0;
                if (reply.Status == 206)
                {
                    start = RangeStart(reply.Header("Content-Range"));
                    if (start != from)
                        throw new VitrineException("DATA_LOSS", info.Name + ": asked for byte " + from + ", got " + start);
                }
                else if (from > 0)
                {
                    // A whole body after a Range request: skip what we have.
                    start = 0;
                }
                long skip = from - start;
                if (reply.Body.LongLength > skip)
                    assembly.Add(index, from, reply.Body, (int)skip, (int)(reply.Body.LongLength - skip));
                if (!assembly.FileComplete(index))
                {
                    if (!reply.Truncated)
                        throw new VitrineException("DATA_LOSS", info.Name + ": got " + assembly.Received(index) + " of " + info.SizeBytes + " bytes");
                    if (++attempts > Retries)
                        throw new VitrineException("UNAVAILABLE", info.Name + ": the download broke off " + attempts + " times");
                }
            }
        }

        static long RangeStart(string contentRange)
        {
            // "bytes 100-199/1000"
            if (contentRange == null || !contentRange.StartsWith("bytes "))
                throw new VitrineException("DATA_LOSS", "a 206 reply without Content-Range");
            string span = contentRange.Substring(6);
            return long.Parse(span.Substring(0, span.IndexOf('-')), CultureInfo.InvariantCulture);
        }

        async Task<Dictionary<string, object>> JsonAsync(string method, string path, byte[] body, CancellationToken cancel)
        {
            var reply = await SendAsync(new HttpRequest { Method = method, Url = baseUrl + path, Body = body }, cancel)
                .ConfigureAwait(false);
            if (reply.Status >= 400) throw ErrorOf(reply);
            if (reply.Truncated) throw new VitrineException("UNAVAILABLE", method + " " + path + ": the reply broke off");
            return (Dictionary<string, object>)Json.Parse(Utf8.Text(reply.Body));
        }

        async Task<HttpResponse> SendAsync(HttpRequest request, CancellationToken cancel)
        {
            if (!string.IsNullOrEmpty(Token)) request.Headers["Authorization"] = "Bearer " + Token;
            try
            {
                // 429 (the server's per-client rate or concurrency limit): wait as its
                // Retry-After says, then try again, up to Retries times.
                for (int attempt = 0; ; attempt++)
                {
                    var reply = await transport.SendAsync(request, cancel).ConfigureAwait(false);
                    if (reply.Status != 429 || attempt >= Retries) return reply;
                    int seconds;
                    if (!int.TryParse(reply.Header("Retry-After"), out seconds)) seconds = 1;
                    RateLimited++;
                    await Task.Delay(TimeSpan.FromSeconds(Math.Min(Math.Max(seconds, 0), 30)), cancel)
                        .ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException)
            {
                if (cancel.IsCancellationRequested) throw new VitrineException("CANCELLED", request.Url + ": cancelled");
                throw new VitrineException("DEADLINE_EXCEEDED", request.Url + ": timed out");
            }
            catch (System.Net.Http.HttpRequestException e)
            {
                throw new VitrineException("UNAVAILABLE", "cannot reach a vitrine server at " + baseUrl + " (" + e.Message
                                           + "); start one with `vitrine serve --http-address HOST:PORT`");
            }
        }

        // The HTTP face's errors: {"code": "NOT_FOUND", "message": ..., "field": ...}.
        static VitrineException ErrorOf(HttpResponse reply)
        {
            try
            {
                var doc = (Dictionary<string, object>)Json.Parse(Utf8.Text(reply.Body));
                return new VitrineException(Wire.Str(doc, "code"), Wire.Str(doc, "message"), Wire.Str(doc, "field"), reply.Status);
            }
            catch (Exception)
            {
                return new VitrineException("UNKNOWN", "HTTP " + reply.Status, "", reply.Status);
            }
        }

        public void Dispose()
        {
            if (ownsTransport) ((IDisposable)transport).Dispose();
        }
    }
}
