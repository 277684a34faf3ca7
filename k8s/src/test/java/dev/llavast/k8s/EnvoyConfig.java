package dev.llavast.k8s;

import io.fabric8.kubernetes.api.model.ConfigMap;
import java.util.ArrayList;
import java.util.List;
import tools.jackson.databind.JsonNode;

/**
 * The Envoy bootstrap carried by a variant's {@code llavast-envoy-config} ConfigMap, and the facts
 * the manifests test needs from it. The config has one listener and one cluster. Any thread.
 */
record EnvoyConfig(JsonNode root) {
  static final String KEY = "envoy.yaml";
  private static final String HCM =
      "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager";
  private static final String RING_HASH =
      "type.googleapis.com/envoy.extensions.load_balancing_policies.ring_hash.v3.RingHash";
  private static final String HTTP_OPTIONS =
      "envoy.extensions.upstreams.http.v3.HttpProtocolOptions";

  static EnvoyConfig of(Variant v) {
    ConfigMap cm = v.get(ConfigMap.class, Variant.ENVOY_CONFIG_MAP);
    String text = cm.getData().get(KEY);
    if (text == null) {
      throw new AssertionError("ConfigMap " + Variant.ENVOY_CONFIG_MAP + " has no key " + KEY);
    }
    return new EnvoyConfig(Yaml.readOne(text, Variant.ENVOY_CONFIG_MAP + "/" + KEY));
  }

  List<String> schemaViolations() {
    JsonNode schema =
        Yaml.readOne(
            Yaml.read(
                Variant.moduleDir().resolve("src/test/resources/schemas/envoy-bootstrap.yaml")),
            "envoy schema");
    return KeySchema.violations(root, schema);
  }

  private JsonNode listener() {
    return only(root.path("static_resources").path("listeners"), "listener");
  }

  private JsonNode cluster() {
    return only(root.path("static_resources").path("clusters"), "cluster");
  }

  private JsonNode hcm() {
    JsonNode filter =
        only(
            only(listener().path("filter_chains"), "filter chain").path("filters"),
            "network filter");
    JsonNode tc = filter.path("typed_config");
    if (!HCM.equals(tc.path("@type").asString(""))) {
      throw new AssertionError(
          "the listener's filter is not the HTTP connection manager: " + tc.path("@type"));
    }
    return tc;
  }

  int listenerPort() {
    return listener().path("address").path("socket_address").path("port_value").asInt();
  }

  String adminAddress() {
    return root.path("admin").path("address").path("socket_address").path("address").asString("");
  }

  /** Header names of the hash policies of every route that sends to the cluster. */
  List<String> hashHeaders() {
    String cluster = cluster().path("name").asString();
    List<String> headers = new ArrayList<>();
    int routes = 0;
    for (JsonNode vh : hcm().path("route_config").path("virtual_hosts")) {
      for (JsonNode route : vh.path("routes")) {
        routes++;
        if (!cluster.equals(route.path("route").path("cluster").asString(""))) {
          throw new AssertionError("route " + route + " does not go to cluster " + cluster);
        }
        for (JsonNode hp : route.path("route").path("hash_policy")) {
          headers.add(hp.path("header").path("header_name").asString(""));
        }
      }
    }
    if (routes == 0) {
      throw new AssertionError("Envoy config has no routes");
    }
    return headers;
  }

  String clusterType() {
    return cluster().path("type").asString("");
  }

  boolean ringHash() {
    JsonNode c = cluster();
    if ("RING_HASH".equals(c.path("lb_policy").asString(""))) {
      return true;
    }
    for (JsonNode p : c.path("load_balancing_policy").path("policies")) {
      if (RING_HASH.equals(
          p.path("typed_extension_config").path("typed_config").path("@type").asString(""))) {
        return true;
      }
    }
    return false;
  }

  boolean upstreamHttp2() {
    return cluster()
        .path("typed_extension_protocol_options")
        .path(HTTP_OPTIONS)
        .path("explicit_http_config")
        .has("http2_protocol_options");
  }

  private JsonNode upstreamSocket() {
    JsonNode la = cluster().path("load_assignment");
    JsonNode ep = only(only(la.path("endpoints"), "locality").path("lb_endpoints"), "endpoint");
    return ep.path("endpoint").path("address").path("socket_address");
  }

  String upstreamAddress() {
    return upstreamSocket().path("address").asString("");
  }

  int upstreamPort() {
    return upstreamSocket().path("port_value").asInt();
  }

  /** The cluster's DEFAULT-priority max_requests (Envoy's default is 1024). */
  long maxRequests() {
    for (JsonNode t : cluster().path("circuit_breakers").path("thresholds")) {
      if (t.path("priority").asString("DEFAULT").equals("DEFAULT") && t.has("max_requests")) {
        return t.get("max_requests").asLong();
      }
    }
    return 1024;
  }

  String healthCheckService() {
    return only(cluster().path("health_checks"), "health check")
        .path("grpc_health_check")
        .path("service_name")
        .asString("");
  }

  private static JsonNode only(JsonNode list, String what) {
    if (!list.isArray() || list.size() != 1) {
      throw new AssertionError("expected exactly one " + what + ", got " + list);
    }
    return list.get(0);
  }
}
