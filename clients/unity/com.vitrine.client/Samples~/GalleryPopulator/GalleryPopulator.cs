// Sample: fills a grid with generated props and one animated character.
// Add to an empty GameObject, set Server to your `vitrine serve --http-address`, press Play.
// NOT compiled here (no Unity on the build machines).
using System.Threading.Tasks;
using UnityEngine;
using Vitrine.Client;
using Vitrine.Unity;

public class GalleryPopulator : MonoBehaviour
{
    public string Server = "http://127.0.0.1:8080";
    public string[] Categories = { "chair", "table", "vase", "column", "bench", "lamp" };
    public int PerCategory = 2;
    public float Spacing = 2.5f;
    public bool AddCharacter = true;

    async void Start()
    {
        var client = new VitrineClient(Server, new UnityWebRequestTransport(),
                                       new AssetCache(Application.persistentDataPath + "/vitrine"));
        var spawns = new System.Collections.Generic.List<Task>();
        for (int c = 0; c < Categories.Length; c++)
            for (int k = 0; k < PerCategory; k++)
            {
                var request = new GenerateRequest("procedural", Categories[c], (ulong)(1 + k))
                    .With("max_triangles", 20000u);
                var slot = new GameObject(Categories[c] + " " + k).transform;
                slot.SetParent(transform, false);
                slot.localPosition = new Vector3(c * Spacing, 0, k * Spacing);
                spawns.Add(VitrineLoader.SpawnPropAsync(client, request, slot));
            }
        if (AddCharacter)
        {
            var request = new GenerateRequest("humanoid", "heroic", 1)
                .With("skeleton", "SKELETON_VRM").With("clips", "idle,walk");
            var slot = new GameObject("character").transform;
            slot.SetParent(transform, false);
            slot.localPosition = new Vector3(-Spacing, 0, 0);
            spawns.Add(VitrineLoader.SpawnCharacterAsync(client, request, slot, "idle"));
        }
        try { await Task.WhenAll(spawns); }
        catch (VitrineException e) { Debug.LogError("vitrine: " + e.Message + (e.Field.Length > 0 ? " [" + e.Field + "]" : "")); }
    }
}
