// The one thing the client needs from an HTTP stack: send a request, get status, headers and
// body. SystemNetHttpTransport (System.Net.Http) serves the editor, desktop, mobile and Mono;
// Unity WebGL, where sockets are the browser's, plugs in Runtime/Unity/UnityWebRequestTransport.
using System;
using System.Collections.Generic;
using System.IO;
using System.Net.Http;
using System.Text;
using System.Threading;
using System.Threading.Tasks;

namespace Vitrine.Client
{
    public class HttpRequest
    {
        public string Method = "GET";
        public string Url;
        public Dictionary<string, string> Headers = new Dictionary<string, string>();
        public byte[] Body;  // null: none
        public string ContentType = "application/json";
    }

    public class HttpResponse
    {
        public int Status;
        public Dictionary<string, string> Headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        public byte[] Body = new byte[0];
        /// <summary>The body broke off before its end (a dropped connection): Body holds what
        /// arrived, and a Range request can fetch the rest.</summary>
        public bool Truncated;

        public string Header(string name)
        {
            string v;
            return Headers.TryGetValue(name, out v) ? v : null;
        }
    }

    public interface IHttpTransport
    {
        Task<HttpResponse> SendAsync(HttpRequest request, CancellationToken cancel);
    }

    public sealed class SystemNetHttpTransport : IHttpTransport, IDisposable
    {
        readonly HttpClient http;

        /// <summary>Testing aid: every response body breaks off after this many bytes (as after
        /// a dropped connection). 0 = off.</summary>
        public long BreakBodyAfterBytes;

        public SystemNetHttpTransport(TimeSpan timeout)
        {
            http = new HttpClient { Timeout = timeout };
        }

        public async Task<HttpResponse> SendAsync(HttpRequest request, CancellationToken cancel)
        {
            var message = new HttpRequestMessage(new HttpMethod(request.Method), request.Url);
            foreach (var kv in request.Headers)
                message.Headers.TryAddWithoutValidation(kv.Key, kv.Value);
            if (request.Body != null)
            {
                message.Content = new ByteArrayContent(request.Body);
                message.Content.Headers.TryAddWithoutValidation("Content-Type", request.ContentType);
            }
            using (var reply = await http.SendAsync(message, HttpCompletionOption.ResponseHeadersRead, cancel)
                       .ConfigureAwait(false))
            {
                var result = new HttpResponse { Status = (int)reply.StatusCode };
                foreach (var h in reply.Headers) result.Headers[h.Key] = string.Join(", ", h.Value);
                foreach (var h in reply.Content.Headers) result.Headers[h.Key] = string.Join(", ", h.Value);
                var body = new MemoryStream();
                try
                {
                    using (var stream = await reply.Content.ReadAsStreamAsync().ConfigureAwait(false))
                    {
                        var buffer = new byte[64 * 1024];
                        while (true)
                        {
                            int want = buffer.Length;
                            if (BreakBodyAfterBytes > 0)
                            {
                                long left = BreakBodyAfterBytes - body.Length;
                                if (left <= 0) { result.Truncated = true; break; }
                                want = (int)Math.Min(want, left);
                            }
                            int n = await stream.ReadAsync(buffer, 0, want, cancel).ConfigureAwait(false);
                            if (n == 0) break;
                            body.Write(buffer, 0, n);
                        }
                    }
                }
                catch (IOException)
                {
                    result.Truncated = true;  // keep what arrived; the caller resumes with Range
                }
                result.Body = body.ToArray();
                return result;
            }
        }

        public void Dispose()
        {
            http.Dispose();
        }
    }

    internal static class Utf8
    {
        public static byte[] Bytes(string s) { return Encoding.UTF8.GetBytes(s); }
        public static string Text(byte[] b) { return Encoding.UTF8.GetString(b); }
    }
}
