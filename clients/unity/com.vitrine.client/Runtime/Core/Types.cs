// The wire contract's messages as the HTTP face sends them (proto3 JSON, protos/vitrine/v1/
// assets.proto), as plain C# classes with no UnityEngine dependency.
using System;
using System.Collections.Generic;
using System.Globalization;

namespace Vitrine.Client
{
    /// <summary>A refusal or failure: the status code name ("NOT_FOUND", "INVALID_ARGUMENT",
    /// "DATA_LOSS", ...), the message and the offending request field ("" if none).</summary>
    public class VitrineException : Exception
    {
        public string Code { get; private set; }
        public string Field { get; private set; }
        public int HttpStatus { get; private set; }

        public VitrineException(string code, string message, string field = "", int httpStatus = 0)
            : base(code + ": " + message)
        {
            Code = code;
            Field = field ?? "";
            HttpStatus = httpStatus;
            Detail = message;
        }

        /// <summary>The message without the code prefix.</summary>
        public string Detail { get; private set; }
    }

    public class OptionInfo
    {
        public string Name, Description, Type, DefaultValue;
        public double Min, Max;
        public List<string> Choices = new List<string>();
    }

    public class ModelInfo
    {
        public string Name, Kind, Version, Description;
        public List<string> Categories = new List<string>();
        public List<OptionInfo> Options = new List<OptionInfo>();
    }

    public class AssetFileInfo
    {
        public string Name, MimeType, Sha256;
        public long SizeBytes;
        public int Lod, Triangles;
    }

    public class AssetHeader
    {
        public string AssetId, Kind, Model, ModelVersion, Category;
        public ulong Seed;
        public List<AssetFileInfo> Files = new List<AssetFileInfo>();
        /// <summary>Bounds of the finest LOD in metres, +Y up: min xyz, max xyz.</summary>
        public float[] BoundsMin = new float[3], BoundsMax = new float[3];
        public bool CacheHit;

        public int IndexOf(string name)
        {
            for (int i = 0; i < Files.Count; i++) if (Files[i].Name == name) return i;
            return -1;
        }
    }

    public class AssetFile
    {
        public AssetFileInfo Info;
        public byte[] Data;
        public string Name { get { return Info.Name; } }
    }

    /// <summary>One asset, every file verified (size and SHA-256), coarsest LOD first.</summary>
    public class Asset
    {
        public AssetHeader Header;
        public List<AssetFile> Files = new List<AssetFile>();
        public string AssetId { get { return Header.AssetId; } }

        public AssetFile Find(string name)
        {
            foreach (var f in Files) if (f.Name == name) return f;
            return null;
        }

        /// <summary>The finest GLB: what a prop's renderer loads when it wants one file.</summary>
        public AssetFile FinestGlb()
        {
            AssetFile best = null;
            foreach (var f in Files)
                if (f.Info.MimeType == "model/gltf-binary" && (best == null || f.Info.Lod <= best.Info.Lod))
                    best = f;
            return best;
        }
    }

    /// <summary>A GenerateRequest. Options by their proto field names (snake_case) with C#
    /// values: uint/int/float/double for numbers, strings for strings and enum value names
    /// ("PIVOT_CENTER"); an option not set takes the model's default.</summary>
    public class GenerateRequest
    {
        public string Model, Category;
        public ulong Seed;
        public Dictionary<string, object> Options = new Dictionary<string, object>();

        public GenerateRequest(string model, string category, ulong seed = 0)
        {
            Model = model;
            Category = category;
            Seed = seed;
        }

        public GenerateRequest With(string option, object value)
        {
            Options[option] = value;
            return this;
        }

        /// <summary>proto3 JSON: lowerCamelCase names, 64-bit integers as strings.</summary>
        public string ToJson()
        {
            var opts = new Dictionary<string, object>();
            foreach (var kv in Options)
            {
                object v = kv.Value;
                if (v is ulong || v is long) v = Convert.ToString(v, CultureInfo.InvariantCulture);
                opts[Wire.LowerCamel(kv.Key)] = v;
            }
            var doc = new Dictionary<string, object>
            {
                { "model", Model }, { "category", Category },
                { "seed", Seed.ToString(CultureInfo.InvariantCulture) }, { "options", opts },
            };
            return Json.Serialize(doc);
        }
    }

    /// <summary>proto3 JSON -> the classes above.</summary>
    public static class Wire
    {
        public static string LowerCamel(string snake)
        {
            var parts = snake.Split('_');
            var s = parts[0];
            for (int i = 1; i < parts.Length; i++)
                if (parts[i].Length > 0) s += char.ToUpperInvariant(parts[i][0]) + parts[i].Substring(1);
            return s;
        }

        static object Get(Dictionary<string, object> d, string key)
        {
            object v;
            return d != null && d.TryGetValue(key, out v) ? v : null;
        }

        public static string Str(Dictionary<string, object> d, string key)
        {
            var v = Get(d, key);
            return v == null ? "" : Convert.ToString(v, CultureInfo.InvariantCulture);
        }

        // proto3 JSON writes 64-bit integers as strings and 32-bit ones as numbers.
        public static double Num(Dictionary<string, object> d, string key)
        {
            var v = Get(d, key);
            if (v == null) return 0;
            if (v is string) return double.Parse((string)v, CultureInfo.InvariantCulture);
            return Convert.ToDouble(v, CultureInfo.InvariantCulture);
        }

        public static ulong U64(Dictionary<string, object> d, string key)
        {
            var v = Get(d, key);
            if (v == null) return 0;
            if (v is string) return ulong.Parse((string)v, CultureInfo.InvariantCulture);
            return Convert.ToUInt64(v, CultureInfo.InvariantCulture);
        }

        public static Dictionary<string, object> Obj(Dictionary<string, object> d, string key)
        {
            return Get(d, key) as Dictionary<string, object>;
        }

        public static List<object> Arr(Dictionary<string, object> d, string key)
        {
            return Get(d, key) as List<object> ?? new List<object>();
        }

        public static AssetHeader Header(Dictionary<string, object> h)
        {
            var header = new AssetHeader
            {
                AssetId = Str(h, "assetId"), Seed = U64(h, "seed"), Kind = Str(h, "kind"),
                Model = Str(h, "model"), ModelVersion = Str(h, "modelVersion"),
                Category = Str(h, "category"),
            };
            foreach (var o in Arr(h, "files"))
            {
                var f = (Dictionary<string, object>)o;
                header.Files.Add(new AssetFileInfo
                {
                    Name = Str(f, "name"), MimeType = Str(f, "mimeType"), Sha256 = Str(f, "sha256"),
                    SizeBytes = (long)U64(f, "sizeBytes"), Lod = (int)Num(f, "lod"),
                    Triangles = (int)Num(f, "triangles"),
                });
            }
            var bounds = Obj(h, "bounds");
            string[] axes = { "x", "y", "z" };
            for (int i = 0; i < 3; i++)
            {
                header.BoundsMin[i] = (float)Num(Obj(bounds, "min"), axes[i]);
                header.BoundsMax[i] = (float)Num(Obj(bounds, "max"), axes[i]);
            }
            var timings = Obj(h, "timings");
            header.CacheHit = timings != null && Equals(Get(timings, "cacheHit"), true);
            return header;
        }

        public static ModelInfo Model(Dictionary<string, object> m)
        {
            var info = new ModelInfo
            {
                Name = Str(m, "name"), Kind = Str(m, "kind"), Version = Str(m, "version"),
                Description = Str(m, "description"),
            };
            foreach (var c in Arr(m, "categories")) info.Categories.Add((string)c);
            foreach (var o in Arr(m, "options"))
            {
                var d = (Dictionary<string, object>)o;
                var opt = new OptionInfo
                {
                    Name = Str(d, "name"), Description = Str(d, "description"), Type = Str(d, "type"),
                    DefaultValue = Str(d, "defaultValue"), Min = Num(d, "min"), Max = Num(d, "max"),
                };
                foreach (var c in Arr(d, "choices")) opt.Choices.Add((string)c);
                info.Options.Add(opt);
            }
            return info;
        }
    }
}
