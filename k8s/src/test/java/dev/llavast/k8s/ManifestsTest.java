package dev.llavast.k8s;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import dev.llavast.k8s.Manifests.Resource;
import dev.llavast.k8s.Variant.ServerFlags;
import dev.llavast.server.ServerConfig;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.ContainerPort;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.IntOrString;
import io.fabric8.kubernetes.api.model.LabelSelector;
import io.fabric8.kubernetes.api.model.Namespace;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaim;
import io.fabric8.kubernetes.api.model.PodSecurityContext;
import io.fabric8.kubernetes.api.model.PodSpec;
import io.fabric8.kubernetes.api.model.Probe;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.SecurityContext;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServiceAccount;
import io.fabric8.kubernetes.api.model.ServicePort;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.VolumeMount;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.autoscaling.v2.HorizontalPodAutoscaler;
import io.fabric8.kubernetes.api.model.autoscaling.v2.MetricSpec;
import io.fabric8.kubernetes.api.model.policy.v1.PodDisruptionBudget;
import java.math.BigDecimal;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import tools.jackson.databind.JsonNode;

/**
 * Validates what each variant renders to (the base and both overlays), without kubectl or a
 * cluster: typed parsing with the fabric8 model, and the contracts between the manifests and the
 * server (ports, health services, drain timeout, routing header), read from {@link ServerConfig}
 * and the server's own command line.
 */
class ManifestsTest {
  static final String NAMESPACE = "llavast";
  static final String QUEUE_METRIC = "llavast_requests_waiting";
  static final String GPU = "nvidia.com/gpu";

  static Stream<String> variants() {
    return Stream.of("base", "overlays/cpu-demo", "overlays/gpu");
  }

  @ParameterizedTest
  @MethodSource("variants")
  void everyDocumentIsACurrentApiWithNoUnknownFields(String dir) {
    Variant v = Variant.render(dir);
    assertThat(v.resources())
        .extracting(Resource::kind)
        .contains(
            "Namespace",
            "ServiceAccount",
            "ConfigMap",
            "Deployment",
            "Service",
            "ServiceMonitor",
            "HorizontalPodAutoscaler",
            "PodDisruptionBudget");
    for (Resource r : v.resources()) {
      assertThat(Manifests.unknownFields(r.typed()))
          .as("%s: unknown fields of %s %s", dir, r.kind(), r.name())
          .isEmpty();
      assertThat(r.name()).as("%s: a %s without a name", dir, r.kind()).isNotBlank();
    }
    JsonNode smSchema =
        Yaml.readOne(
            Yaml.read(
                Variant.moduleDir().resolve("src/test/resources/schemas/servicemonitor.yaml")),
            "schema");
    for (Resource r : v.resources()) {
      if (r.kind().equals("ServiceMonitor")) {
        assertThat(KeySchema.violations(r.tree(), smSchema))
            .as("%s: ServiceMonitor %s", dir, r.name())
            .isEmpty();
      }
    }
  }

  @ParameterizedTest
  @MethodSource("variants")
  void everythingLivesInOneNamespaceThatEnforcesRestrictedPodSecurity(String dir) {
    Variant v = Variant.render(dir);
    Namespace ns = v.get(Namespace.class, NAMESPACE);
    assertThat(ns.getMetadata().getLabels())
        .containsEntry("pod-security.kubernetes.io/enforce", "restricted");
    for (Resource r : v.resources()) {
      if (!r.kind().equals("Namespace")) {
        assertThat(r.typed().getMetadata().getNamespace())
            .as("%s: namespace of %s %s", dir, r.kind(), r.name())
            .isEqualTo(NAMESPACE);
      }
    }
  }

  @ParameterizedTest
  @MethodSource("variants")
  void selectorsMatchPodLabels(String dir) {
    Variant v = Variant.render(dir);
    List<Deployment> deployments = v.all(Deployment.class);
    assertThat(deployments)
        .extracting(d -> d.getMetadata().getName())
        .containsExactlyInAnyOrder(Variant.SERVER_DEPLOYMENT, Variant.ENVOY_DEPLOYMENT);
    for (Deployment d : deployments) {
      Map<String, String> podLabels = d.getSpec().getTemplate().getMetadata().getLabels();
      assertThat(d.getSpec().getSelector().getMatchExpressions()).isNullOrEmpty();
      assertThat(podLabels)
          .as("%s: pod labels of %s", dir, d.getMetadata().getName())
          .containsAllEntriesOf(d.getSpec().getSelector().getMatchLabels());
      for (var tsc : d.getSpec().getTemplate().getSpec().getTopologySpreadConstraints()) {
        assertThat(podsSelected(v, tsc.getLabelSelector())).containsExactly(d);
      }
    }
    // Each Service selects the pods of exactly one Deployment.
    assertThat(
            podsSelected(v, v.get(Service.class, Variant.HEADLESS_SERVICE).getSpec().getSelector()))
        .containsExactly(v.serverDeployment());
    assertThat(podsSelected(v, v.get(Service.class, "llavast").getSpec().getSelector()))
        .containsExactly(v.get(Deployment.class, Variant.ENVOY_DEPLOYMENT));
    // The server's PDB covers the server pods and nothing else.
    PodDisruptionBudget pdb = v.get(PodDisruptionBudget.class, Variant.SERVER_DEPLOYMENT);
    assertThat(pdb.getSpec().getMaxUnavailable()).isEqualTo(new IntOrString(1));
    assertThat(podsSelected(v, pdb.getSpec().getSelector().getMatchLabels()))
        .containsExactly(v.serverDeployment());
    assertThat(
            podsSelected(
                v,
                v.get(PodDisruptionBudget.class, Variant.ENVOY_DEPLOYMENT)
                    .getSpec()
                    .getSelector()
                    .getMatchLabels()))
        .containsExactly(v.get(Deployment.class, Variant.ENVOY_DEPLOYMENT));
    // The ServiceMonitor selects the headless Service (by its labels) and scrapes a port it has.
    JsonNode sm = serviceMonitor(v).tree();
    Map<String, String> smSelector =
        Manifests.convert(sm.path("spec").path("selector"), LabelSelector.class).getMatchLabels();
    List<Service> scraped =
        v.all(Service.class).stream()
            .filter(s -> s.getMetadata().getLabels().entrySet().containsAll(smSelector.entrySet()))
            .toList();
    assertThat(scraped)
        .extracting(s -> s.getMetadata().getName())
        .containsExactly(Variant.HEADLESS_SERVICE);
  }

  @ParameterizedTest
  @MethodSource("variants")
  void serverPortsProbesAndMetricsMatchServerConfig(String dir) {
    Variant v = Variant.render(dir);
    ServerFlags flags = v.serverFlags();
    // Production binds every interface and keeps the documented ports.
    assertThat(flags.host()).isEqualTo("0.0.0.0");
    assertThat(flags.port()).isEqualTo(ServerConfig.DEFAULT_PORT);
    assertThat(flags.metricsPort()).isEqualTo(ServerConfig.DEFAULT_METRICS_PORT);

    Container c = v.serverContainer();
    assertThat(containerPort(c, "grpc")).isEqualTo(flags.port());
    assertThat(containerPort(c, "metrics")).isEqualTo(flags.metricsPort());
    assertGrpcProbe(
        c.getStartupProbe(), flags.port(), ServerConfig.LIVENESS_SERVICE, dir + " startup");
    assertGrpcProbe(
        c.getReadinessProbe(), flags.port(), ServerConfig.READINESS_SERVICE, dir + " readiness");
    assertGrpcProbe(
        c.getLivenessProbe(), flags.port(), ServerConfig.LIVENESS_SERVICE, dir + " liveness");
    // Startup gets much longer than liveness: loading a model is slow, a hung worker is not.
    assertThat(c.getStartupProbe().getPeriodSeconds() * c.getStartupProbe().getFailureThreshold())
        .isGreaterThan(
            c.getLivenessProbe().getPeriodSeconds() * c.getLivenessProbe().getFailureThreshold());

    // Headless Service: DNS gives pod IPs, so its port must be the container port itself.
    Service headless = v.get(Service.class, Variant.HEADLESS_SERVICE);
    assertThat(headless.getSpec().getClusterIP()).isEqualTo("None");
    ServicePort grpc = servicePort(headless, "grpc");
    assertThat(grpc.getPort()).isEqualTo(flags.port());
    assertThat(resolveTargetPort(c, grpc)).isEqualTo(flags.port());
    assertThat(grpc.getAppProtocol()).isEqualTo("kubernetes.io/h2c");
    ServicePort metrics = servicePort(headless, "metrics");
    assertThat(resolveTargetPort(c, metrics)).isEqualTo(flags.metricsPort());

    // The ServiceMonitor scrapes that metrics port at the server's metrics path.
    JsonNode endpoints = serviceMonitor(v).tree().path("spec").path("endpoints");
    assertThat(endpoints.size()).isEqualTo(1);
    assertThat(endpoints.get(0).path("port").asString()).isEqualTo(metrics.getName());
    assertThat(endpoints.get(0).path("path").asString()).isEqualTo(ServerConfig.METRICS_PATH);

    // The client-facing Service speaks h2c to Envoy's listener port.
    Service front = v.get(Service.class, "llavast");
    ServicePort frontGrpc = servicePort(front, "grpc");
    assertThat(frontGrpc.getAppProtocol()).isEqualTo("kubernetes.io/h2c");
    Container envoy = Variant.container(v.get(Deployment.class, Variant.ENVOY_DEPLOYMENT), "envoy");
    assertThat(resolveTargetPort(envoy, frontGrpc)).isEqualTo(EnvoyConfig.of(v).listenerPort());
  }

  @ParameterizedTest
  @MethodSource("variants")
  void gracePeriodCoversPreStopAndDrainTimeout(String dir) {
    Variant v = Variant.render(dir);
    ServerFlags flags = v.serverFlags();
    PodSpec pod = v.serverDeployment().getSpec().getTemplate().getSpec();
    long preStop = preStopSeconds(v.serverContainer());
    assertThat(preStop)
        .as("%s: the server needs a preStop delay for endpoint removal to propagate", dir)
        .isGreaterThan(0);
    // The drain must be able to finish after preStop before the kubelet sends SIGKILL.
    assertThat(pod.getTerminationGracePeriodSeconds())
        .as("%s: terminationGracePeriodSeconds", dir)
        .isGreaterThanOrEqualTo(preStop + flags.drainTimeout().toSeconds());
    Deployment envoy = v.get(Deployment.class, Variant.ENVOY_DEPLOYMENT);
    assertThat(envoy.getSpec().getTemplate().getSpec().getTerminationGracePeriodSeconds())
        .isGreaterThanOrEqualTo(preStopSeconds(Variant.container(envoy, "envoy")));
  }

  @ParameterizedTest
  @MethodSource("variants")
  void podsRunAsNonRootOnAReadOnlyRootWithoutPrivileges(String dir) {
    Variant v = Variant.render(dir);
    for (Deployment d : v.all(Deployment.class)) {
      String name = dir + " " + d.getMetadata().getName();
      PodSpec pod = d.getSpec().getTemplate().getSpec();
      PodSecurityContext psc = pod.getSecurityContext();
      assertThat(psc.getRunAsNonRoot()).as(name).isTrue();
      assertThat(psc.getRunAsUser()).as(name).isNotNull().isGreaterThan(0L);
      assertThat(psc.getSeccompProfile().getType()).as(name).isEqualTo("RuntimeDefault");
      assertThat(pod.getAutomountServiceAccountToken()).as(name).isFalse();
      assertThat(pod.getHostNetwork()).as(name).isNotEqualTo(Boolean.TRUE);
      assertThat(v.has(ServiceAccount.class, pod.getServiceAccountName()))
          .as(name + " service account")
          .isTrue();
      for (Container c : pod.getContainers()) {
        SecurityContext sc = c.getSecurityContext();
        assertThat(sc.getAllowPrivilegeEscalation()).as(name).isFalse();
        assertThat(sc.getReadOnlyRootFilesystem()).as(name).isTrue();
        assertThat(sc.getPrivileged()).as(name).isNotEqualTo(Boolean.TRUE);
        assertThat(sc.getCapabilities().getDrop()).as(name).containsExactly("ALL");
        assertThat(sc.getCapabilities().getAdd()).as(name).isNullOrEmpty();
        // A read-only root needs a writable /tmp (JVM perf data, Netty's native library, temp
        // files).
        assertWritableVolume(pod, c, "/tmp", name);
      }
    }
  }

  @ParameterizedTest
  @MethodSource("variants")
  void imagesArePinned(String dir) {
    Variant v = Variant.render(dir);
    for (Deployment d : v.all(Deployment.class)) {
      PodSpec pod = d.getSpec().getTemplate().getSpec();
      for (Container c :
          Stream.concat(pod.getContainers().stream(), pod.getInitContainers().stream()).toList()) {
        assertPinned(c.getImage(), dir + " " + d.getMetadata().getName() + "/" + c.getName());
        assertThat(c.getImagePullPolicy()).isEqualTo("IfNotPresent");
      }
    }
  }

  @ParameterizedTest
  @MethodSource("variants")
  void serverEnvironmentVolumesAndResourcesAccountForNativeMemory(String dir) {
    Variant v = Variant.render(dir);
    ServerFlags flags = v.serverFlags();
    PodSpec pod = v.serverDeployment().getSpec().getTemplate().getSpec();
    Container c = v.serverContainer();
    String name = dir + " server";
    assertThat(env(c, "DJL_OFFLINE")).isEqualTo("true");
    String djlCache = env(c, "DJL_CACHE_DIR");
    assertThat(Variant.volumeAt(pod, c, djlCache).map(Volume::getEmptyDir))
        .as(name + " DJL cache on an emptyDir")
        .isPresent();
    assertWritableVolume(pod, c, djlCache, name);
    assertThat(flags.mediaDir()).as(name + " --media-dir").isPresent();
    assertWritableVolume(pod, c, flags.mediaDir().orElseThrow().toString(), name);

    // JVM flags come from the environment; the heap is fixed so the rest of the memory is native.
    String jvm = env(c, "JDK_JAVA_OPTIONS");
    long heap = jvmSize(jvm, "-Xmx");
    long direct = jvmSize(jvm, "-XX:MaxDirectMemorySize=");
    assertThat(jvmSize(jvm, "-Xms")).as(name + " -Xms = -Xmx").isEqualTo(heap);
    assertThat(jvm).contains("-XX:+ExitOnOutOfMemoryError");
    assertThat(jvm)
        .as(name + ": heap faulted in at start, not under traffic")
        .contains("-XX:+AlwaysPreTouch");
    Map<String, Quantity> requests = c.getResources().getRequests();
    Map<String, Quantity> limits = c.getResources().getLimits();
    long memRequest = bytes(requests.get("memory"));
    long nativeHeadroom = 1L << 30;
    assertThat(memRequest)
        .as(name + ": memory request must cover heap %d + direct %d + 1 GiB native", heap, direct)
        .isGreaterThanOrEqualTo(heap + direct + nativeHeadroom);
    assertThat(bytes(limits.get("memory")))
        .as(name + " memory limit")
        .isGreaterThanOrEqualTo(memRequest);
    assertThat(requests).containsKey("cpu");
    // Every emptyDir counts against ephemeral storage: the limit must cover their size limits.
    long emptyDirs =
        pod.getVolumes().stream()
            .filter(vol -> vol.getEmptyDir() != null)
            .mapToLong(vol -> bytes(vol.getEmptyDir().getSizeLimit()))
            .sum();
    assertThat(bytes(limits.get("ephemeral-storage")))
        .as(name + " ephemeral-storage limit")
        .isGreaterThanOrEqualTo(emptyDirs);

    // Every mount has a volume, every ConfigMap and claim a volume refers to exists.
    for (VolumeMount m : c.getVolumeMounts()) {
      assertThat(pod.getVolumes()).extracting(Volume::getName).as(name).contains(m.getName());
    }
    for (Volume vol : pod.getVolumes()) {
      if (vol.getConfigMap() != null) {
        assertThat(v.has(ConfigMap.class, vol.getConfigMap().getName()))
            .as(name + " " + vol.getName())
            .isTrue();
      }
      if (vol.getPersistentVolumeClaim() != null) {
        assertThat(
                v.has(PersistentVolumeClaim.class, vol.getPersistentVolumeClaim().getClaimName()))
            .as(name)
            .isTrue();
      }
    }
  }

  @ParameterizedTest
  @MethodSource("variants")
  void gpuOnlyInTheGpuOverlayWithOneDevicePerGpuAndWeightsFromAReadOnlyClaim(String dir) {
    Variant v = Variant.render(dir);
    ServerFlags flags = v.serverFlags();
    PodSpec pod = v.serverDeployment().getSpec().getTemplate().getSpec();
    Container c = v.serverContainer();
    Quantity gpuLimit = c.getResources().getLimits().get(GPU);
    if (!dir.endsWith("gpu")) {
      assertThat(gpuLimit).as(dir + " must not ask for a GPU").isNull();
      assertThat(flags.devices()).startsWith("cpu");
      if (dir.endsWith("cpu-demo")) {
        assertThat(flags.modelDir())
            .as("the CPU demo runs the built-in random-weight checkpoint")
            .isEmpty();
      }
      return;
    }
    assertThat(gpuLimit).as("gpu overlay: limits." + GPU).isNotNull();
    int gpus = Integer.parseInt(gpuLimit.getAmount());
    assertThat(gpus).isGreaterThanOrEqualTo(1);
    // Extended resources cannot be overcommitted: a request, if given, equals the limit.
    Quantity gpuRequest = c.getResources().getRequests().get(GPU);
    if (gpuRequest != null) {
      assertThat(gpuRequest.getAmount()).isEqualTo(gpuLimit.getAmount());
    }
    // One CUDA worker per GPU the pod gets (the device plugin numbers them from 0).
    Matcher m = Pattern.compile("cuda:(\\d+(?:,\\d+)*)").matcher(flags.devices());
    assertThat(m.matches()).as("--devices=%s", flags.devices()).isTrue();
    List<Integer> ordinals = Stream.of(m.group(1).split(",")).map(Integer::parseInt).toList();
    assertThat(ordinals).hasSize(gpus).doesNotHaveDuplicates().allMatch(i -> i < gpus);
    assertThat(pod.getTolerations()).anyMatch(t -> GPU.equals(t.getKey()));

    // Weights: --model-dir is a read-only mount of a read-only, ReadOnlyMany claim.
    String modelDir =
        flags
            .modelDir()
            .orElseThrow(() -> new AssertionError("gpu overlay: --model-dir unset"))
            .toString();
    VolumeMount mount =
        Variant.mountAt(c, modelDir)
            .orElseThrow(() -> new AssertionError("--model-dir is on no volume"));
    assertThat(mount.getReadOnly()).isTrue();
    Volume weights = Variant.volumeAt(pod, c, modelDir).orElseThrow();
    assertThat(weights.getPersistentVolumeClaim()).isNotNull();
    assertThat(weights.getPersistentVolumeClaim().getReadOnly()).isTrue();
    PersistentVolumeClaim claim =
        v.get(PersistentVolumeClaim.class, weights.getPersistentVolumeClaim().getClaimName());
    assertThat(claim.getSpec().getAccessModes()).contains("ReadOnlyMany");
    assertThat(c.getImage()).contains("cuda");
  }

  @ParameterizedTest
  @MethodSource("variants")
  void hpaScalesTheServerOnQueueDepthServedByPrometheusAdapter(String dir) {
    Variant v = Variant.render(dir);
    HorizontalPodAutoscaler hpa = v.get(HorizontalPodAutoscaler.class, Variant.SERVER_DEPLOYMENT);
    var target = hpa.getSpec().getScaleTargetRef();
    assertThat(target.getApiVersion()).isEqualTo("apps/v1");
    assertThat(target.getKind()).isEqualTo("Deployment");
    assertThat(target.getName()).isEqualTo(Variant.SERVER_DEPLOYMENT);
    // With at least two replicas, the PDB's one voluntary disruption never takes the last pod.
    assertThat(hpa.getSpec().getMinReplicas()).isGreaterThanOrEqualTo(2);
    assertThat(hpa.getSpec().getMaxReplicas()).isGreaterThan(hpa.getSpec().getMinReplicas());
    assertThat(hpa.getSpec().getMetrics()).hasSize(1);
    MetricSpec metric = hpa.getSpec().getMetrics().get(0);
    assertThat(metric.getType()).isEqualTo("Pods");
    assertThat(metric.getPods().getMetric().getName()).isEqualTo(QUEUE_METRIC);
    assertThat(metric.getPods().getTarget().getType()).isEqualTo("AverageValue");
    long perPod = bytes(metric.getPods().getTarget().getAverageValue());
    assertThat(perPod).isGreaterThan(0);
    // Scale out well before a pod's queue is full and it starts answering RESOURCE_EXHAUSTED.
    assertThat(perPod)
        .as("HPA target vs --max-queued-requests")
        .isLessThanOrEqualTo(v.serverFlags().maxQueuedRequests() / 4);
    // The HPA owns the replica count: a replicas field in the Deployment would reset it on every
    // apply.
    assertThat(v.serverDeployment().getSpec().getReplicas())
        .as("server Deployment replicas")
        .isNull();
    // The adapter rule publishes exactly that name, per pod and namespace.
    assertThat(AdapterRule.load().publishedNames()).contains(QUEUE_METRIC);
  }

  @ParameterizedTest
  @MethodSource("variants")
  void envoyHashesTheMediaIdHeaderAcrossTheHeadlessServiceOnTheServerPort(String dir) {
    Variant v = Variant.render(dir);
    EnvoyConfig envoy = EnvoyConfig.of(v);
    assertThat(envoy.schemaViolations()).isEmpty();
    assertThat(envoy.hashHeaders()).containsExactly(ServerConfig.MEDIA_ID_HEADER);
    assertThat(envoy.clusterType()).isEqualTo("STRICT_DNS");
    assertThat(envoy.ringHash()).as("ring hash load balancing").isTrue();
    assertThat(envoy.upstreamHttp2()).as("HTTP/2 to the server").isTrue();
    assertThat(envoy.upstreamAddress())
        .isEqualTo(Variant.HEADLESS_SERVICE + "." + NAMESPACE + ".svc.cluster.local");
    assertThat(envoy.upstreamPort()).isEqualTo(v.serverFlags().port());
    assertThat(envoy.healthCheckService()).isEqualTo(ServerConfig.READINESS_SERVICE);
    // Envoy must not cap concurrent streams below what the server pods admit at the HPA's maximum.
    int maxPods =
        v.get(HorizontalPodAutoscaler.class, Variant.SERVER_DEPLOYMENT).getSpec().getMaxReplicas();
    assertThat(envoy.maxRequests())
        .isGreaterThanOrEqualTo((long) maxPods * v.serverFlags().maxQueuedRequests());
    assertThat(envoy.adminAddress())
        .as("Envoy's admin API stays on loopback")
        .isEqualTo("127.0.0.1");
    Container c = Variant.container(v.get(Deployment.class, Variant.ENVOY_DEPLOYMENT), "envoy");
    assertThat(containerPort(c, "grpc")).isEqualTo(envoy.listenerPort());
    // The container reads the config from where the ConfigMap is mounted.
    int i = c.getArgs().indexOf("--config-path");
    assertThat(i).isGreaterThanOrEqualTo(0);
    String path = c.getArgs().get(i + 1);
    PodSpec pod =
        v.get(Deployment.class, Variant.ENVOY_DEPLOYMENT).getSpec().getTemplate().getSpec();
    assertThat(Variant.volumeAt(pod, c, path).map(vol -> vol.getConfigMap().getName()))
        .contains(Variant.ENVOY_CONFIG_MAP);
    assertThat(Path.of(path).getFileName().toString()).isEqualTo(EnvoyConfig.KEY);
  }

  // ---------------------------------------------------------------------------------------------

  static Resource serviceMonitor(Variant v) {
    List<Resource> sms =
        v.resources().stream()
            .filter(
                r ->
                    r.typed() instanceof GenericKubernetesResource
                        && r.kind().equals("ServiceMonitor"))
            .toList();
    assertThat(sms).hasSize(1);
    return sms.get(0);
  }

  static List<Deployment> podsSelected(Variant v, LabelSelector selector) {
    assertThat(selector.getMatchExpressions()).isNullOrEmpty();
    return podsSelected(v, selector.getMatchLabels());
  }

  static List<Deployment> podsSelected(Variant v, Map<String, String> selector) {
    assertThat(selector).as("an empty selector selects everything").isNotEmpty();
    return v.all(Deployment.class).stream()
        .filter(
            d ->
                d.getSpec()
                    .getTemplate()
                    .getMetadata()
                    .getLabels()
                    .entrySet()
                    .containsAll(selector.entrySet()))
        .toList();
  }

  static int containerPort(Container c, String name) {
    return c.getPorts().stream()
        .filter(p -> name.equals(p.getName()))
        .map(ContainerPort::getContainerPort)
        .findFirst()
        .orElseThrow(
            () -> new AssertionError("container " + c.getName() + " has no port named " + name));
  }

  static ServicePort servicePort(Service s, String name) {
    return s.getSpec().getPorts().stream()
        .filter(p -> name.equals(p.getName()))
        .findFirst()
        .orElseThrow(
            () ->
                new AssertionError(
                    "Service " + s.getMetadata().getName() + " has no port named " + name));
  }

  static int resolveTargetPort(Container c, ServicePort p) {
    IntOrString t = p.getTargetPort();
    if (t == null) {
      return p.getPort();
    }
    return t.getIntVal() != null ? t.getIntVal() : containerPort(c, t.getStrVal());
  }

  static void assertGrpcProbe(Probe probe, int port, String service, String what) {
    assertThat(probe).as(what + " probe").isNotNull();
    assertThat(probe.getGrpc()).as(what + " probe must be the native gRPC probe").isNotNull();
    assertThat(probe.getGrpc().getPort()).as(what + " probe port").isEqualTo(port);
    assertThat(probe.getGrpc().getService()).as(what + " probe service").isEqualTo(service);
    assertThat(probe.getExec()).isNull();
    assertThat(probe.getTimeoutSeconds()).as(what + " timeout").isNotNull();
  }

  static long preStopSeconds(Container c) {
    var preStop = c.getLifecycle() == null ? null : c.getLifecycle().getPreStop();
    if (preStop == null) {
      return 0;
    }
    if (preStop.getSleep() != null) {
      return preStop.getSleep().getSeconds();
    }
    fail(
        "preStop of "
            + c.getName()
            + " must be a sleep action so its length is known, got "
            + preStop);
    return -1;
  }

  static void assertWritableVolume(PodSpec pod, Container c, String path, String what) {
    VolumeMount m =
        Variant.mountAt(c, path)
            .orElseThrow(
                () ->
                    new AssertionError(
                        what + ": " + path + " is on the read-only root filesystem"));
    assertThat(m.getReadOnly())
        .as(what + ": " + path + " must be writable")
        .isNotEqualTo(Boolean.TRUE);
    Volume vol = Variant.volumeAt(pod, c, path).orElseThrow();
    assertThat(vol.getEmptyDir() != null || vol.getPersistentVolumeClaim() != null)
        .as(what + ": " + path)
        .isTrue();
  }

  static void assertPinned(String image, String what) {
    assertThat(image).as(what).isNotBlank();
    if (image.contains("@sha256:")) {
      assertThat(image).as(what).matches(".*@sha256:[0-9a-f]{64}");
      return;
    }
    String name = Kustomize.imageName(image);
    assertThat(image.length())
        .as(what + ": image '%s' has no tag", image)
        .isGreaterThan(name.length() + 1);
    String tag = image.substring(name.length() + 1);
    assertThat(tag)
        .as(what + ": floating tag")
        .doesNotContain("latest")
        .isNotIn("main", "master", "stable", "edge");
    assertThat(tag).as(what + ": tag must name a version").matches("v?\\d+(\\.\\d+)*.*");
  }

  static String env(Container c, String name) {
    return c.getEnv().stream()
        .filter(e -> e.getName().equals(name))
        .map(EnvVar::getValue)
        .findFirst()
        .orElseThrow(() -> new AssertionError("container " + c.getName() + " has no env " + name));
  }

  static long bytes(Quantity q) {
    assertThat(q).isNotNull();
    BigDecimal b = Quantity.getAmountInBytes(q);
    return b.longValueExact();
  }

  /** A JVM size option ({@code -Xmx12g}, {@code -XX:MaxDirectMemorySize=512m}) in bytes. */
  static long jvmSize(String options, String prefix) {
    Optional<String> opt =
        Stream.of(options.trim().split("\\s+")).filter(o -> o.startsWith(prefix)).findFirst();
    String v =
        opt.orElseThrow(() -> new AssertionError("JVM options '" + options + "' set no " + prefix))
            .substring(prefix.length());
    long unit =
        switch (Character.toLowerCase(v.charAt(v.length() - 1))) {
          case 'k' -> 1L << 10;
          case 'm' -> 1L << 20;
          case 'g' -> 1L << 30;
          default -> 1;
        };
    String digits = unit == 1 ? v : v.substring(0, v.length() - 1);
    return Long.parseLong(digits) * unit;
  }
}
