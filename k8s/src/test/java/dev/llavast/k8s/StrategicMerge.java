package dev.llavast.k8s;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.node.ArrayNode;
import tools.jackson.databind.node.ObjectNode;

/**
 * The subset of Kubernetes strategic merge patch that our overlays use: mappings merge key by key,
 * a {@code null} value deletes a key, the lists Kubernetes declares with a merge key (containers by
 * name, volumeMounts by mountPath, ...) merge item by item in Kubernetes' order, and every other
 * list is replaced. Patch directives ({@code $patch}, {@code $retainKeys}, ...) are refused rather
 * than misapplied. Stateless; any thread.
 */
final class StrategicMerge {
  /** Merge keys of the list fields we may patch, as in the Kubernetes API's patchMergeKey tags. */
  private static final Map<String, String> MERGE_KEYS =
      Map.of(
          "containers", "name",
          "initContainers", "name",
          "ephemeralContainers", "name",
          "volumes", "name",
          "env", "name",
          "imagePullSecrets", "name",
          "volumeMounts", "mountPath",
          "topologySpreadConstraints", "topologyKey");

  private StrategicMerge() {}

  /** A new tree: {@code patch} applied to {@code base}; neither argument is changed. */
  static ObjectNode merge(ObjectNode base, ObjectNode patch) {
    ObjectNode out = base.deepCopy();
    mergeInto(out, patch, "");
    return out;
  }

  private static void mergeInto(ObjectNode target, ObjectNode patch, String path) {
    for (Map.Entry<String, JsonNode> e : patch.properties()) {
      String key = e.getKey();
      JsonNode value = e.getValue();
      String here = path + "/" + key;
      if (key.startsWith("$")) {
        throw new IllegalArgumentException(
            "strategic merge directive " + here + " is not supported by this renderer");
      }
      JsonNode current = target.get(key);
      if (value.isNull()) {
        target.remove(key);
      } else if (value.isObject() && current != null && current.isObject()) {
        mergeInto((ObjectNode) current, (ObjectNode) value, here);
      } else if (value.isArray()
          && current != null
          && current.isArray()
          && mergeKey(key, (ArrayNode) value) != null) {
        target.set(
            key,
            mergeList(
                (ArrayNode) current, (ArrayNode) value, mergeKey(key, (ArrayNode) value), here));
      } else {
        target.set(key, value.deepCopy());
      }
    }
  }

  /** Container ports merge by containerPort, Service ports by port; the rest by the table. */
  private static String mergeKey(String field, ArrayNode patchItems) {
    if (field.equals("ports")) {
      return patchItems.size() > 0 && patchItems.get(0).has("containerPort")
          ? "containerPort"
          : "port";
    }
    return MERGE_KEYS.get(field);
  }

  /**
   * As Kubernetes orders a merged list: the patch's items first, in patch order (each merged into
   * the base item with the same key, if any), then the base items the patch does not name.
   */
  private static ArrayNode mergeList(
      ArrayNode base, ArrayNode patch, String mergeKey, String path) {
    ArrayNode out = base.arrayNode();
    List<JsonNode> patchKeys = new ArrayList<>();
    for (JsonNode item : patch) {
      if (!item.isObject() || !item.has(mergeKey)) {
        throw new IllegalArgumentException(
            "item of " + path + " has no merge key '" + mergeKey + "': " + item);
      }
      JsonNode key = item.get(mergeKey);
      if (patchKeys.contains(key)) {
        throw new IllegalArgumentException(path + " names " + mergeKey + "=" + key + " twice");
      }
      patchKeys.add(key);
      ObjectNode merged = null;
      for (JsonNode existing : base) {
        if (existing.isObject() && key.equals(existing.get(mergeKey))) {
          merged = ((ObjectNode) existing).deepCopy();
          mergeInto(merged, (ObjectNode) item, path + "[" + mergeKey + "=" + key + "]");
          break;
        }
      }
      out.add(merged != null ? merged : item.deepCopy());
    }
    for (JsonNode existing : base) {
      if (!patchKeys.contains(existing.get(mergeKey))) {
        out.add(existing.deepCopy());
      }
    }
    return out;
  }
}
