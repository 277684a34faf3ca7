package dev.llavast.k8s;

import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Namespace;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaim;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServiceAccount;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.autoscaling.v2.HorizontalPodAutoscaler;
import io.fabric8.kubernetes.api.model.policy.v1.PodDisruptionBudget;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.ObjectMapper;
import tools.jackson.databind.json.JsonMapper;

/**
 * Typed views of rendered manifests: each document becomes the fabric8 model class of its
 * apiVersion and kind, and every field the model does not know is reported. Stateless; any thread.
 */
final class Manifests {
  /** The API versions we deploy, all current (GA, not deprecated) in Kubernetes 1.29+. */
  static final Map<String, Class<? extends HasMetadata>> TYPES =
      Map.of(
          "v1/Namespace", Namespace.class,
          "v1/ServiceAccount", ServiceAccount.class,
          "v1/ConfigMap", ConfigMap.class,
          "v1/Service", Service.class,
          "v1/PersistentVolumeClaim", PersistentVolumeClaim.class,
          "apps/v1/Deployment", Deployment.class,
          "autoscaling/v2/HorizontalPodAutoscaler", HorizontalPodAutoscaler.class,
          "policy/v1/PodDisruptionBudget", PodDisruptionBudget.class,
          // A CRD without a fabric8 model at 8.0.0; its spec is checked against
          // schemas/servicemonitor.yaml.
          "monitoring.coreos.com/v1/ServiceMonitor", GenericKubernetesResource.class);

  private static final ObjectMapper JSON = JsonMapper.builder().build();

  private Manifests() {}

  /** One rendered resource: its tree as written and its typed model. */
  record Resource(JsonNode tree, HasMetadata typed) {
    String kind() {
      return typed.getKind();
    }

    String name() {
      return typed.getMetadata().getName();
    }

    <T extends HasMetadata> T as(Class<T> type) {
      return type.cast(typed);
    }
  }

  /** Parses {@code tree} into the model class of its apiVersion/kind; fails for any other API. */
  static Resource parse(JsonNode tree) {
    String gvk = tree.path("apiVersion").asString("") + "/" + tree.path("kind").asString("");
    Class<? extends HasMetadata> type = TYPES.get(gvk);
    if (type == null) {
      throw new IllegalArgumentException(
          "apiVersion/kind '"
              + gvk
              + "' of "
              + tree.path("metadata").path("name")
              + " is not one we deploy (current APIs only); expected one of "
              + TYPES.keySet());
    }
    return new Resource(tree, JSON.treeToValue(tree, type));
  }

  /** The typed form of a sub-tree (a Pod template, say): for checks on fragments. */
  static <T> T convert(JsonNode tree, Class<T> type) {
    return JSON.treeToValue(tree, type);
  }

  /**
   * Paths of every field that the fabric8 model kept aside as an "additional property": a field
   * that does not exist in that API version (a typo, or a field at the wrong level). Empty if all
   * fields are known. A {@link GenericKubernetesResource}'s own body is not inspected (it has no
   * schema), only its metadata.
   */
  static List<String> unknownFields(HasMetadata resource) {
    List<String> found = new ArrayList<>();
    if (resource instanceof GenericKubernetesResource generic) {
      walk(generic.getMetadata(), "metadata", found);
    } else {
      walk(resource, "", found);
    }
    return found;
  }

  private static void walk(Object o, String path, List<String> found) {
    if (o == null) {
      return;
    }
    if (o instanceof Map<?, ?> map) {
      map.forEach((k, v) -> walk(v, path + "." + k, found));
      return;
    }
    if (o instanceof Collection<?> list) {
      int i = 0;
      for (Object item : list) {
        walk(item, path + "[" + i++ + "]", found);
      }
      return;
    }
    if (o instanceof Optional<?> opt) {
      opt.ifPresent(v -> walk(v, path, found));
      return;
    }
    if (!o.getClass().getName().startsWith("io.fabric8.kubernetes.api.model")) {
      return; // a scalar (String, Integer, Boolean, ...)
    }
    for (Method m : o.getClass().getMethods()) {
      if (m.getParameterCount() != 0
          || Modifier.isStatic(m.getModifiers())
          || !m.getName().startsWith("get")
          || m.getName().equals("getClass")) {
        continue;
      }
      Object value = invoke(m, o);
      if (m.getName().equals("getAdditionalProperties")) {
        if (value instanceof Map<?, ?> extra) {
          extra.keySet().forEach(k -> found.add(path + "." + k));
        }
      } else {
        walk(value, path + "." + decapitalize(m.getName().substring(3)), found);
      }
    }
  }

  private static Object invoke(Method m, Object target) {
    try {
      return m.invoke(target);
    } catch (IllegalAccessException | InvocationTargetException e) {
      throw new IllegalStateException("cannot read " + m + " of " + target.getClass().getName(), e);
    }
  }

  private static String decapitalize(String s) {
    return s.isEmpty() ? s : Character.toLowerCase(s.charAt(0)) + s.substring(1);
  }
}
