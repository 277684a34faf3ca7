package dev.llavast.k8s;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import tools.jackson.databind.JsonNode;

/**
 * A small allowed-keys schema for configuration that has no Java model here (the ServiceMonitor
 * CRD, Envoy's bootstrap). A schema is a YAML tree: a mapping lists the keys allowed at that level
 * (the key {@code "*"} allows any key, checked against its value); a one-item list means "a list of
 * these"; the leaves {@code string}, {@code number}, {@code boolean} check the scalar type and
 * {@code any} accepts anything. A mapping with the single key {@code "@typed"} selects the schema
 * by the value's {@code "@type"} (protobuf Any, as Envoy's typed_config). Stateless; any thread.
 */
final class KeySchema {
  private KeySchema() {}

  /** Every violation of {@code schema} in {@code value}, as "path: what is wrong". */
  static List<String> violations(JsonNode value, JsonNode schema) {
    List<String> out = new ArrayList<>();
    check(value, schema, "", out);
    return out;
  }

  private static void check(JsonNode value, JsonNode schema, String path, List<String> out) {
    if (schema.isString()) {
      String type = schema.asString();
      boolean ok =
          switch (type) {
            case "any" -> true;
            case "string" -> value.isString();
            case "number" -> value.isNumber();
            case "boolean" -> value.isBoolean();
            default ->
                throw new IllegalArgumentException(
                    "schema leaf '"
                        + type
                        + "' at "
                        + path
                        + " is not one of any, string, number, boolean");
          };
      if (!ok) {
        out.add(path + ": expected a " + type + ", got " + value.getNodeType() + " " + value);
      }
      return;
    }
    if (schema.isArray()) {
      if (!value.isArray()) {
        out.add(path + ": expected a list, got " + value.getNodeType());
        return;
      }
      for (int i = 0; i < value.size(); i++) {
        check(value.get(i), schema.get(0), path + "[" + i + "]", out);
      }
      return;
    }
    if (!value.isObject()) {
      out.add(path + ": expected a mapping, got " + value.getNodeType() + " " + value);
      return;
    }
    if (schema.size() == 1 && schema.has("@typed")) {
      String type = value.path("@type").asString("");
      JsonNode typed = schema.get("@typed").get(type);
      if (typed == null) {
        out.add(
            path + ": @type '" + type + "' is not one of " + schema.get("@typed").propertyNames());
        return;
      }
      for (Map.Entry<String, JsonNode> e : value.properties()) {
        if (!e.getKey().equals("@type")) {
          checkKey(e.getKey(), e.getValue(), typed, path, out);
        }
      }
      return;
    }
    for (Map.Entry<String, JsonNode> e : value.properties()) {
      checkKey(e.getKey(), e.getValue(), schema, path, out);
    }
  }

  private static void checkKey(
      String key, JsonNode value, JsonNode schema, String path, List<String> out) {
    JsonNode sub = schema.has(key) ? schema.get(key) : schema.get("*");
    if (sub == null) {
      out.add(path + "." + key + ": unknown field (allowed: " + schema.propertyNames() + ")");
    } else {
      check(value, sub, path + "." + key, out);
    }
  }
}
