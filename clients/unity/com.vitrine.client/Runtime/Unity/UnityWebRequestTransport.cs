// IHttpTransport over UnityWebRequest: the transport for Unity WebGL (where System.Net.Http
// has no sockets) and any platform that prefers Unity's own stack. NOT compiled or tested
// here (no Unity on the build machines); the logic it feeds (Range resume, ETag and SHA-256
// checks, errors) is in Runtime/Core and tested with Mono.
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using UnityEngine.Networking;
using Vitrine.Client;

namespace Vitrine.Unity
{
    public sealed class UnityWebRequestTransport : IHttpTransport
    {
        public int TimeoutSeconds = 300;

        public async Task<HttpResponse> SendAsync(HttpRequest request, CancellationToken cancel)
        {
            using (var web = new UnityWebRequest(request.Url, request.Method))
            {
                web.downloadHandler = new DownloadHandlerBuffer();
                if (request.Body != null)
                {
                    web.uploadHandler = new UploadHandlerRaw(request.Body);
                    web.SetRequestHeader("Content-Type", request.ContentType);
                }
                foreach (var kv in request.Headers) web.SetRequestHeader(kv.Key, kv.Value);
                web.timeout = TimeoutSeconds;
                var op = web.SendWebRequest();
                while (!op.isDone)
                {
                    if (cancel.IsCancellationRequested) { web.Abort(); cancel.ThrowIfCancellationRequested(); }
                    await Task.Yield();  // resumes on Unity's main thread (its SynchronizationContext)
                }
                if (web.result == UnityWebRequest.Result.ConnectionError && web.responseCode == 0)
                    throw new System.Net.Http.HttpRequestException(web.error);
                var reply = new HttpResponse { Status = (int)web.responseCode, Body = web.downloadHandler.data ?? new byte[0] };
                var headers = web.GetResponseHeaders();
                if (headers != null) foreach (var kv in headers) reply.Headers[kv.Key] = kv.Value;
                // A body shorter than its Content-Length broke off: the core resumes with Range.
                long length;
                string declared = reply.Header("Content-Length");
                reply.Truncated = declared != null && long.TryParse(declared, out length) && reply.Body.LongLength < length;
                return reply;
            }
        }
    }
}
