package dev.llavast.k8s;

import dev.llavast.k8s.Manifests.Resource;
import dev.llavast.server.Main;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.PodSpec;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.VolumeMount;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;

/** One rendered deployment variant (a kustomization directory under k8s/) and lookups into it. */
record Variant(String dir, List<Resource> resources) {
  static final String SERVER_DEPLOYMENT = "llavast-server";
  static final String SERVER_CONTAINER = "server";
  static final String ENVOY_DEPLOYMENT = "llavast-envoy";
  static final String ENVOY_CONFIG_MAP = "llavast-envoy-config";
  static final String HEADLESS_SERVICE = "llavast-server-headless";

  /** The k8s module directory (surefire runs with it as basedir). */
  static Path moduleDir() {
    return Path.of(System.getProperty("basedir", ".")).toAbsolutePath().normalize();
  }

  private static final Map<String, Variant> RENDERED = new ConcurrentHashMap<>();

  /** The rendered and parsed variant; rendered once per test JVM (callers must not modify it). */
  static Variant render(String dir) {
    return RENDERED.computeIfAbsent(dir, Variant::renderNow);
  }

  private static Variant renderNow(String dir) {
    List<Resource> parsed = new ArrayList<>();
    for (var tree : Kustomize.render(moduleDir().resolve(dir))) {
      parsed.add(Manifests.parse(tree));
    }
    return new Variant(dir, List.copyOf(parsed));
  }

  <T extends HasMetadata> List<T> all(Class<T> type) {
    return resources.stream()
        .map(Resource::typed)
        .filter(type::isInstance)
        .map(type::cast)
        .toList();
  }

  <T extends HasMetadata> T get(Class<T> type, String name) {
    return all(type).stream()
        .filter(r -> r.getMetadata().getName().equals(name))
        .findFirst()
        .orElseThrow(
            () -> new AssertionError(dir + ": no " + type.getSimpleName() + " named " + name));
  }

  <T extends HasMetadata> boolean has(Class<T> type, String name) {
    return all(type).stream().anyMatch(r -> r.getMetadata().getName().equals(name));
  }

  Deployment serverDeployment() {
    return get(Deployment.class, SERVER_DEPLOYMENT);
  }

  Container serverContainer() {
    return container(serverDeployment(), SERVER_CONTAINER);
  }

  static Container container(Deployment d, String name) {
    return d.getSpec().getTemplate().getSpec().getContainers().stream()
        .filter(c -> c.getName().equals(name))
        .findFirst()
        .orElseThrow(
            () -> new AssertionError("no container " + name + " in " + d.getMetadata().getName()));
  }

  /** The volume that {@code mountPath} (or a parent directory of it) is mounted from. */
  static Optional<Volume> volumeAt(PodSpec pod, Container c, String path) {
    return mountAt(c, path)
        .flatMap(
            m ->
                pod.getVolumes().stream().filter(v -> v.getName().equals(m.getName())).findFirst());
  }

  /** The volume mount that covers {@code path} (the longest mountPath that is a parent of it). */
  static Optional<VolumeMount> mountAt(Container c, String path) {
    Path p = Path.of(path);
    return c.getVolumeMounts().stream()
        .filter(m -> p.startsWith(Path.of(m.getMountPath())))
        .max((a, b) -> Integer.compare(a.getMountPath().length(), b.getMountPath().length()));
  }

  /**
   * The server's flags as the server itself parses them: the container's args, with each
   * {@code @file} read from the ConfigMap mounted at that path, given to the server's own picocli
   * command line. Fails on a flag the server does not know.
   */
  ServerFlags serverFlags() {
    CommandSpec spec = serverCommand();
    return new ServerFlags(
        spec.findOption("--port").getValue(),
        spec.findOption("--metrics-port").getValue(),
        spec.findOption("--drain-timeout").getValue(),
        spec.findOption("--devices").getValue(),
        Optional.ofNullable(spec.findOption("--model-dir").<Path>getValue()),
        Optional.ofNullable(spec.findOption("--media-dir").<Path>getValue()),
        spec.findOption("--host").getValue(),
        spec.findOption("--max-queued-requests").getValue());
  }

  /**
   * Any one server flag's value as the server parses it from this variant (its default where the
   * variant does not set it), e.g. {@code serverOption("--feature-cache-bytes")}.
   */
  <T> T serverOption(String name) {
    var option = serverCommand().findOption(name);
    if (option == null) {
      throw new AssertionError("the server has no flag " + name);
    }
    return option.getValue();
  }

  /** The server's command line after parsing this variant's arguments. */
  private CommandSpec serverCommand() {
    Deployment d = serverDeployment();
    PodSpec pod = d.getSpec().getTemplate().getSpec();
    Container c = serverContainer();
    List<Path> temps = new ArrayList<>();
    try {
      List<String> args = new ArrayList<>();
      for (String arg : c.getArgs()) {
        if (!arg.startsWith("@")) {
          args.add(arg);
          continue;
        }
        String file = arg.substring(1);
        Volume v =
            volumeAt(pod, c, file)
                .orElseThrow(() -> new AssertionError(dir + ": " + arg + " is on no volume"));
        if (v.getConfigMap() == null) {
          throw new AssertionError(dir + ": " + arg + " is not on a ConfigMap volume");
        }
        ConfigMap cm = get(ConfigMap.class, v.getConfigMap().getName());
        String key =
            Path.of(mountAt(c, file).orElseThrow().getMountPath())
                .relativize(Path.of(file))
                .toString();
        String content = cm.getData().get(key);
        if (content == null) {
          throw new AssertionError(
              dir + ": ConfigMap " + cm.getMetadata().getName() + " has no key " + key);
        }
        Path tmp = Files.createTempFile("server", ".args");
        temps.add(tmp);
        Files.writeString(tmp, content);
        args.add("@" + tmp);
      }
      CommandLine cl = new CommandLine(new Main());
      cl.parseArgs(args.toArray(String[]::new));
      return cl.getCommandSpec();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } finally {
      for (Path t : temps) {
        try {
          Files.deleteIfExists(t);
        } catch (IOException ignored) {
          // a leftover temp file is harmless
        }
      }
    }
  }

  /** The server flags the manifests care about, as typed by the server's command line. */
  record ServerFlags(
      int port,
      int metricsPort,
      Duration drainTimeout,
      String devices,
      Optional<Path> modelDir,
      Optional<Path> mediaDir,
      String host,
      int maxQueuedRequests) {}
}
