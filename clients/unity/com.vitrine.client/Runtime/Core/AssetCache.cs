// A local cache of verified assets keyed by asset id. Ids are content addresses (model version
// + canonical request), so a cached file never goes stale: it is only re-checked against its
// SHA-256 when read, and a file that fails the check is dropped and downloaded again.
using System;
using System.IO;

namespace Vitrine.Client
{
    public sealed class AssetCache
    {
        readonly string root;

        /// <param name="root">Folder to keep assets in (Unity: Application.persistentDataPath
        /// + "/vitrine"); created when needed.</param>
        public AssetCache(string root)
        {
            this.root = root;
        }

        public string Root { get { return root; } }

        string PathOf(string assetId, string name)
        {
            // Ids are hex and names plain file names; never let either escape the folder.
            if (assetId.IndexOfAny(new[] { '/', '\\', '.' }) >= 0 || Path.GetFileName(name) != name)
                throw new ArgumentException("not a cacheable asset id / file name: " + assetId + "/" + name);
            return Path.Combine(Path.Combine(root, assetId), name);
        }

        /// <summary>The cached bytes of a file if present and intact, else null.</summary>
        public byte[] TryGet(string assetId, AssetFileInfo file)
        {
            string path = PathOf(assetId, file.Name);
            if (!File.Exists(path)) return null;
            byte[] bytes = File.ReadAllBytes(path);
            if (bytes.LongLength == file.SizeBytes && AssetAssembly.Sha256Hex(bytes) == file.Sha256)
                return bytes;
            File.Delete(path);
            return null;
        }

        public void Put(string assetId, AssetFile file)
        {
            string path = PathOf(assetId, file.Name);
            Directory.CreateDirectory(Path.GetDirectoryName(path));
            string tmp = path + ".part";
            File.WriteAllBytes(tmp, file.Data);
            if (File.Exists(path)) File.Delete(path);
            File.Move(tmp, path);  // readers never see a half-written file
        }

        /// <summary>The cached header JSON of an asset (what /v1/assets/{id} returned), or null.</summary>
        public string TryGetHeaderJson(string assetId)
        {
            string path = PathOf(assetId, "asset.json");
            return File.Exists(path) ? File.ReadAllText(path) : null;
        }

        public void PutHeaderJson(string assetId, string json)
        {
            string path = PathOf(assetId, "asset.json");
            Directory.CreateDirectory(Path.GetDirectoryName(path));
            File.WriteAllText(path, json);
        }
    }
}
