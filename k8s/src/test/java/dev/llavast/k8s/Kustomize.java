package dev.llavast.k8s;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.node.ObjectNode;

/**
 * Renders a kustomization directory the way {@code kubectl kustomize} does, for the features our
 * kustomizations use: {@code resources} (files and base directories), {@code namespace}, {@code
 * configMapGenerator} from files with {@code create}/{@code replace}/{@code merge}, strategic-merge
 * {@code patches} by path, and {@code images}. Any other field (or a generator or patch option not
 * listed) is refused, so a kustomization this renderer would misread fails the test instead of
 * passing it.
 *
 * <p>Differences from kustomize, on purpose: generated ConfigMaps keep their plain name (kustomize
 * adds a content-hash suffix and rewrites every reference to it consistently, which changes no
 * check here). Stateless; any thread.
 */
final class Kustomize {
  private static final Set<String> KUSTOMIZATION_FIELDS =
      Set.of(
          "apiVersion",
          "kind",
          "namespace",
          "resources",
          "configMapGenerator",
          "patches",
          "images");
  private static final Set<String> GENERATOR_FIELDS =
      Set.of("name", "namespace", "behavior", "files");
  private static final Set<String> PATCH_FIELDS = Set.of("path");
  private static final Set<String> IMAGE_FIELDS = Set.of("name", "newName", "newTag", "digest");
  private static final Set<String> CLUSTER_SCOPED =
      Set.of(
          "Namespace",
          "PersistentVolume",
          "ClusterRole",
          "ClusterRoleBinding",
          "CustomResourceDefinition",
          "StorageClass");

  private Kustomize() {}

  /** The resources {@code dir}'s kustomization.yaml produces, in kustomize's resource order. */
  static List<ObjectNode> render(Path dir) {
    Path file = dir.resolve("kustomization.yaml");
    if (!Files.isRegularFile(file)) {
      throw new IllegalArgumentException("no kustomization.yaml in " + dir);
    }
    JsonNode k = Yaml.readOne(Yaml.read(file), file.toString());
    for (String field : k.propertyNames()) {
      if (!KUSTOMIZATION_FIELDS.contains(field)) {
        throw new IllegalArgumentException(
            file
                + ": field '"
                + field
                + "' is not supported by the test renderer; "
                + "supported: "
                + KUSTOMIZATION_FIELDS);
      }
    }
    requireText(k, "apiVersion", "kustomize.config.k8s.io/v1beta1", file);
    requireText(k, "kind", "Kustomization", file);

    List<ObjectNode> out = new ArrayList<>();
    for (JsonNode r : k.path("resources")) {
      Path p = dir.resolve(r.asString()).normalize();
      if (Files.isDirectory(p)) {
        out.addAll(render(p));
      } else {
        for (JsonNode doc : Yaml.readAll(p)) {
          out.add((ObjectNode) doc);
        }
      }
    }
    for (JsonNode g : k.path("configMapGenerator")) {
      generateConfigMap(dir, file, (ObjectNode) g, out);
    }
    for (JsonNode p : k.path("patches")) {
      applyPatch(dir, file, p, out);
    }
    for (JsonNode img : k.path("images")) {
      setImage(file, img, out);
    }
    if (k.has("namespace")) {
      String ns = k.get("namespace").asString();
      for (ObjectNode r : out) {
        if (!CLUSTER_SCOPED.contains(r.path("kind").asString())) {
          ((ObjectNode) r.get("metadata")).put("namespace", ns);
        }
      }
    }
    return out;
  }

  private static void generateConfigMap(Path dir, Path file, ObjectNode g, List<ObjectNode> out) {
    checkFields(g, GENERATOR_FIELDS, file + " configMapGenerator");
    String name = g.path("name").asString();
    String behavior = g.path("behavior").asString("create");
    ObjectNode data = Yaml.MAPPER.createObjectNode();
    for (JsonNode f : g.path("files")) {
      String spec = f.asString();
      int eq = spec.indexOf('=');
      String key = eq >= 0 ? spec.substring(0, eq) : Path.of(spec).getFileName().toString();
      Path src = dir.resolve(eq >= 0 ? spec.substring(eq + 1) : spec).normalize();
      if (!src.startsWith(dir)) {
        throw new IllegalArgumentException(
            file + ": generator file " + src + " is outside the kustomization root");
      }
      data.put(key, Yaml.read(src));
    }
    ObjectNode existing = find(out, "ConfigMap", name);
    switch (behavior) {
      case "create" -> {
        if (existing != null) {
          throw new IllegalArgumentException(
              file + ": ConfigMap " + name + " already exists; use behavior replace or merge");
        }
        ObjectNode cm = Yaml.MAPPER.createObjectNode();
        cm.put("apiVersion", "v1");
        cm.put("kind", "ConfigMap");
        ObjectNode meta = cm.putObject("metadata");
        meta.put("name", name);
        if (g.has("namespace")) {
          meta.put("namespace", g.get("namespace").asString());
        }
        cm.set("data", data);
        out.add(cm);
      }
      case "replace", "merge" -> {
        if (existing == null) {
          throw new IllegalArgumentException(
              file + ": behavior " + behavior + " needs an existing ConfigMap " + name);
        }
        if (g.has("namespace")
            && !g.get("namespace")
                .asString()
                .equals(existing.path("metadata").path("namespace").asString())) {
          throw new IllegalArgumentException(
              file
                  + ": ConfigMap "
                  + name
                  + " is in namespace '"
                  + existing.path("metadata").path("namespace").asString()
                  + "', generator names '"
                  + g.get("namespace").asString()
                  + "'");
        }
        if (behavior.equals("replace")) {
          existing.set("data", data);
        } else {
          ((ObjectNode) existing.get("data")).setAll(data);
        }
      }
      default ->
          throw new IllegalArgumentException(
              file
                  + ": unknown generator behavior '"
                  + behavior
                  + "', expected create, replace or merge");
    }
  }

  private static void applyPatch(Path dir, Path file, JsonNode p, List<ObjectNode> out) {
    checkFields(p, PATCH_FIELDS, file + " patches");
    Path patchFile = dir.resolve(p.path("path").asString());
    for (JsonNode patch : Yaml.readAll(patchFile)) {
      String kind = patch.path("kind").asString();
      String name = patch.path("metadata").path("name").asString();
      ObjectNode target = find(out, kind, name);
      if (target == null) {
        throw new IllegalArgumentException(
            patchFile + ": no " + kind + " named '" + name + "' to patch");
      }
      if (!target.path("apiVersion").equals(patch.path("apiVersion"))) {
        throw new IllegalArgumentException(
            patchFile
                + ": patch apiVersion "
                + patch.path("apiVersion")
                + " differs from the target's "
                + target.path("apiVersion"));
      }
      out.set(out.indexOf(target), StrategicMerge.merge(target, (ObjectNode) patch));
    }
  }

  private static void setImage(Path file, JsonNode img, List<ObjectNode> out) {
    checkFields(img, IMAGE_FIELDS, file + " images");
    String name = img.path("name").asString();
    boolean matched = false;
    for (ObjectNode r : out) {
      for (String list : List.of("containers", "initContainers")) {
        for (JsonNode c : r.path("spec").path("template").path("spec").path(list)) {
          String image = c.path("image").asString();
          if (imageName(image).equals(name)) {
            String newName = img.path("newName").asString(name);
            String ref =
                img.has("digest")
                    ? "@" + img.get("digest").asString()
                    : img.has("newTag")
                        ? ":" + img.get("newTag").asString()
                        : image.substring(imageName(image).length());
            ((ObjectNode) c).put("image", newName + ref);
            matched = true;
          }
        }
      }
    }
    if (!matched) {
      throw new IllegalArgumentException(
          file + ": images entry '" + name + "' matches no container image");
    }
  }

  /** The repository part of an image reference: without {@code :tag} or {@code @digest}. */
  static String imageName(String image) {
    int at = image.indexOf('@');
    String s = at >= 0 ? image.substring(0, at) : image;
    int colon = s.lastIndexOf(':');
    return colon > s.lastIndexOf('/') ? s.substring(0, colon) : s;
  }

  private static ObjectNode find(List<ObjectNode> resources, String kind, String name) {
    ObjectNode found = null;
    for (ObjectNode r : resources) {
      if (r.path("kind").asString().equals(kind)
          && r.path("metadata").path("name").asString().equals(name)) {
        if (found != null) {
          throw new IllegalArgumentException("two " + kind + " resources named " + name);
        }
        found = r;
      }
    }
    return found;
  }

  private static void checkFields(JsonNode node, Set<String> allowed, String where) {
    for (String field : node.propertyNames()) {
      if (!allowed.contains(field)) {
        throw new IllegalArgumentException(
            where + ": field '" + field + "' is not supported; supported: " + allowed);
      }
    }
  }

  private static void requireText(JsonNode k, String field, String expected, Path file) {
    if (!expected.equals(k.path(field).asString())) {
      throw new IllegalArgumentException(
          file
              + ": "
              + field
              + " must be "
              + expected
              + ", got '"
              + k.path(field).asString()
              + "'");
    }
  }
}
