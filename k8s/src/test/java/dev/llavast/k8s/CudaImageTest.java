package dev.llavast.k8s;

import static dev.llavast.k8s.ManifestsTest.bytes;
import static dev.llavast.k8s.ManifestsTest.env;
import static dev.llavast.k8s.ManifestsTest.jvmSize;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.NodeSelectorRequirement;
import io.fabric8.kubernetes.api.model.PodSpec;
import io.fabric8.kubernetes.api.model.Quantity;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * The GPU deployment's three parts agree: k8s/Dockerfile.cuda, the server's {@code -Pcuda} profile
 * and k8s/overlays/gpu (names, variables, versions), and the pytorch-jni jar the build resolves
 * really has the JNI library for the image's flavor, so DJL can start on the image's libtorch.
 */
class CudaImageTest {
  private static final Path DOCKERFILE = Variant.moduleDir().resolve("Dockerfile.cuda");
  private static final String GPU_OVERLAY = "overlays/gpu";

  /** The variables that decide which libtorch DJL loads, and the NVIDIA runtime's. */
  private static final List<String> LIBTORCH_ENV =
      List.of(
          "PYTORCH_LIBRARY_PATH",
          "PYTORCH_VERSION",
          "PYTORCH_FLAVOR",
          "NVIDIA_DRIVER_CAPABILITIES");

  private static String dockerfile() {
    return Yaml.read(DOCKERFILE);
  }

  private static List<String> instructions() {
    return instructions(dockerfile());
  }

  private static List<String> instructions(String dockerfile) {
    String text = dockerfile.replaceAll("\\\\\\n", " ");
    return text.lines().map(String::strip).filter(l -> !l.isEmpty() && !l.startsWith("#")).toList();
  }

  /** Every {@code ENV k=v} of the Dockerfile (the last wins, as in Docker). */
  private static Map<String, String> dockerEnv() {
    return dockerEnv(dockerfile());
  }

  private static Map<String, String> dockerEnv(String dockerfile) {
    Map<String, String> env = new LinkedHashMap<>();
    Pattern kv = Pattern.compile("([A-Za-z_][A-Za-z0-9_]*)=(\"[^\"]*\"|\\S+)");
    for (String l : instructions(dockerfile)) {
      if (l.startsWith("ENV ")) {
        Matcher m = kv.matcher(l.substring(4));
        while (m.find()) {
          env.put(m.group(1), m.group(2).replace("\"", ""));
        }
      }
    }
    return env;
  }

  /** Every {@code ARG k=v} default. */
  private static Map<String, String> dockerArgs(String dockerfile) {
    Map<String, String> args = new LinkedHashMap<>();
    for (String l : instructions(dockerfile)) {
      Matcher m = Pattern.compile("ARG ([A-Z_]+)=(\\S*)").matcher(l);
      if (m.matches()) {
        args.put(m.group(1), m.group(2));
      }
    }
    return args;
  }

  private static List<String> images() {
    return instructions().stream()
        .filter(l -> l.startsWith("FROM "))
        .map(l -> l.substring(5).strip().split("\\s+")[0])
        .toList();
  }

  @Test
  void theImageStartsFromCuda128AndAJre17OfTheSameUbuntu() {
    List<String> from = images();
    String runtime = from.get(from.size() - 1);
    assertThat(runtime).matches("nvidia/cuda:12\\.8\\.\\d+-runtime-ubuntu24\\.04");
    String jre =
        from.stream().filter(i -> i.startsWith("eclipse-temurin:")).findFirst().orElseThrow();
    assertThat(jre).startsWith("eclipse-temurin:17.").contains("-jre").endsWith("-noble");
    for (String image : from) {
      ManifestsTest.assertPinned(image, "Dockerfile.cuda FROM");
    }
    // The CUDA of the base image is the libtorch flavor's: cu128 <-> 12.8.
    String flavor = dockerEnv().get("PYTORCH_FLAVOR");
    Matcher cu = Pattern.compile("cu(\\d+)(\\d)").matcher(flavor);
    assertThat(cu.matches()).as(flavor).isTrue();
    assertThat(runtime).contains(":" + cu.group(1) + "." + cu.group(2) + ".");
    assertThat(dockerEnv()).containsEntry("NVIDIA_DRIVER_CAPABILITIES", "compute,utility");
  }

  @Test
  void theLibtorchDownloadedIsTheOneDjlIsToldToLoad() {
    assertLibtorchAgreesWithTheBuild(dockerfile(), ServerPom.load());
  }

  /** The checks notice a Dockerfile that disagrees with the build in version or flavor. */
  @Test
  void theAgreementChecksCatchAMismatch() {
    String good = dockerfile();
    ServerPom pom = ServerPom.load();
    for (String[] edit :
        List.of(
            new String[] {"PYTORCH_VERSION=2.7.1", "PYTORCH_VERSION=2.7.0"},
            new String[] {"ARG LIBTORCH_VERSION=2.7.1", "ARG LIBTORCH_VERSION=2.8.0"},
            new String[] {"ARG LIBTORCH_FLAVOR=cu128", "ARG LIBTORCH_FLAVOR=cu126"},
            new String[] {
              "PYTORCH_LIBRARY_PATH=/opt/libtorch/lib", "PYTORCH_LIBRARY_PATH=/opt/torch/lib"
            })) {
      assertThat(good).contains(edit[0]);
      String bad = good.replace(edit[0], edit[1]);
      assertThatThrownBy(() -> assertLibtorchAgreesWithTheBuild(bad, pom))
          .as(edit[1])
          .isInstanceOf(AssertionError.class);
    }
    String otherFlavor = good.replace("PYTORCH_FLAVOR=cu128", "PYTORCH_FLAVOR=cu126");
    assertThatThrownBy(() -> assertOverlayRunsTheImage(otherFlavor, Variant.render(GPU_OVERLAY)))
        .isInstanceOf(AssertionError.class)
        .hasMessageContaining("PYTORCH_FLAVOR");
    String otherTag = good.replace("llavast-server-cuda:0.1.0 .", "llavast-server-cuda:0.2.0 .");
    assertThatThrownBy(() -> assertOverlayRunsTheImage(otherTag, Variant.render(GPU_OVERLAY)))
        .isInstanceOf(AssertionError.class);
  }

  private static void assertLibtorchAgreesWithTheBuild(String dockerfile, ServerPom pom) {
    Map<String, String> env = dockerEnv(dockerfile);
    Map<String, String> args = dockerArgs(dockerfile);
    String pytorch = pom.parentProperty("pytorch.version");
    assertThat(env).containsEntry("PYTORCH_VERSION", pytorch);
    assertThat(args).containsEntry("LIBTORCH_VERSION", pytorch);
    assertThat(args).containsEntry("LIBTORCH_FLAVOR", env.get("PYTORCH_FLAVOR"));
    List<String> lines = instructions(dockerfile);
    String all = String.join("\n", lines);
    assertThat(all)
        .contains(
            "https://download.pytorch.org/libtorch/${LIBTORCH_FLAVOR}/"
                + "libtorch-cxx11-abi-shared-with-deps-${LIBTORCH_VERSION}%2B${LIBTORCH_FLAVOR}.zip");
    // libtorch's lib directory lands where PYTORCH_LIBRARY_PATH points, with the JNI glue in it.
    String libDir = env.get("PYTORCH_LIBRARY_PATH");
    assertThat(lines)
        .anyMatch(
            l -> l.matches("COPY --from=libtorch /opt/libtorch/lib " + Pattern.quote(libDir)));
    assertThat(all).contains("jnilib/linux-x86_64/${LIBTORCH_FLAVOR}/libdjl_torch.so");
    assertThat(env).containsEntry("DJL_OFFLINE", "true");
  }

  /**
   * DJL loads {@code jnilib/<os-arch>/<flavor>/libdjl_torch.so} from pytorch-jni and refuses a jni
   * jar whose version is not {@code <pytorch>-<djl>}: the one our build resolves must have both.
   */
  @Test
  void theJniJarTheBuildResolvesHasTheImagesFlavor() throws IOException {
    ServerPom pom = ServerPom.load();
    String flavor = dockerEnv().get("PYTORCH_FLAVOR");
    ClassLoader cl = getClass().getClassLoader();
    assertThat(cl.getResource("jnilib/linux-x86_64/" + flavor + "/libdjl_torch.so"))
        .as("pytorch-jni carries the %s JNI library", flavor)
        .isNotNull();
    Properties p = new Properties();
    try (InputStream in = cl.getResourceAsStream("jnilib/pytorch.properties")) {
      assertThat(in).isNotNull();
      p.load(in);
    }
    assertThat(p.getProperty("jni_version"))
        .startsWith(
            pom.parentProperty("pytorch.version") + "-" + pom.parentProperty("djl.version"));
  }

  @Test
  void theCudaProfileLeavesTheCpuNativesOutAndTheImageCopiesItsJar() {
    ServerPom pom = ServerPom.load();
    assertThat(pom.cudaJarExcludes()).containsExactly("ai.djl.pytorch:pytorch-native-cpu");
    String jar = pom.jarName(true);
    assertThat(jar).isNotEqualTo(pom.jarName(false)).isEqualTo("llavast-server-cuda");
    List<String> lines = instructions();
    List<String> copies = lines.stream().filter(l -> l.startsWith("COPY server/target/")).toList();
    assertThat(copies)
        .isNotEmpty()
        .allMatch(l -> l.startsWith("COPY server/target/" + jar + ".jar "));
    String target = copies.get(copies.size() - 1).split("\\s+")[2];
    assertThat(lines)
        .anyMatch(
            l ->
                l.startsWith("ENTRYPOINT")
                    && l.contains("\"-jar\"")
                    && l.contains("\"" + target + "\""));
    // The usage comment builds with the profile that exists.
    assertThat(Yaml.read(DOCKERFILE)).contains("-P" + ServerPom.CUDA_PROFILE);
  }

  @Test
  void theGpuOverlayRunsThisImageWithTheSameVariablesAsItsUser() {
    Variant v = Variant.render(GPU_OVERLAY);
    assertOverlayRunsTheImage(dockerfile(), v);
    List<String> users = instructions().stream().filter(l -> l.startsWith("USER ")).toList();
    assertThat(users).hasSize(1);
    Matcher m = Pattern.compile("USER (\\d+):(\\d+)").matcher(users.get(0));
    assertThat(m.matches()).isTrue();
    PodSpec pod = v.serverDeployment().getSpec().getTemplate().getSpec();
    assertThat(pod.getSecurityContext().getRunAsUser()).isEqualTo(Long.parseLong(m.group(1)));
    assertThat(pod.getSecurityContext().getRunAsGroup()).isEqualTo(Long.parseLong(m.group(2)));
    assertThat(lines().indexOf(users.get(0)))
        .as("USER comes after every RUN")
        .isGreaterThan(
            lines().stream()
                .filter(l -> l.startsWith("RUN "))
                .mapToInt(lines()::indexOf)
                .max()
                .orElse(-1));
  }

  /** The image the usage comment builds is the one the overlay runs, with the same variables. */
  private static void assertOverlayRunsTheImage(String dockerfile, Variant v) {
    Container c = v.serverContainer();
    Matcher tag =
        Pattern.compile("docker build -f k8s/Dockerfile\\.cuda -t (\\S+) \\.").matcher(dockerfile);
    assertThat(tag.find()).isTrue();
    assertThat(c.getImage()).isEqualTo(tag.group(1));
    Map<String, String> docker = dockerEnv(dockerfile);
    for (String name : LIBTORCH_ENV) {
      assertThat(env(c, name)).as(name).isEqualTo(docker.get(name));
    }
  }

  private static List<String> lines() {
    return instructions();
  }

  /** LLaVA-ST's release: 100 frames per video at SigLIP's 384 x 384, 3 float channels. */
  private static final long DECODED_CLIP_BYTES = 100L * 3 * 384 * 384 * 4;

  @Test
  void theGpuPodIsSizedForItsPoolsUploadsAndCacheOnABigEnoughGpu() {
    Variant v = Variant.render(GPU_OVERLAY);
    Container c = v.serverContainer();
    Map<String, Quantity> requests = c.getResources().getRequests();
    Map<String, Quantity> limits = c.getResources().getLimits();
    String jvm = env(c, "JDK_JAVA_OPTIONS");

    // CPUs: limit = request, and the JVM (which sizes the decode and frame pools from its processor
    // count) sees exactly that many.
    Quantity cpuRequest = requests.get("cpu");
    assertThat(limits.get("cpu")).as("cpu limit").isEqualTo(cpuRequest);
    int cpus = Integer.parseInt(cpuRequest.getAmount());
    assertThat(cpuRequest.getFormat()).isEmpty();
    Matcher apc = Pattern.compile("-XX:ActiveProcessorCount=(\\d+)").matcher(jvm);
    assertThat(apc.find()).as("-XX:ActiveProcessorCount in " + jvm).isTrue();
    assertThat(Integer.parseInt(apc.group(1))).isEqualTo(cpus);
    assertThat(cpus).isGreaterThanOrEqualTo(4);

    // Heap: the feature cache lives in it, plus one decoded clip per decode thread, plus 2 GiB.
    long heap = jvmSize(jvm, "-Xmx");
    long featureCache = v.<Long>serverOption("--feature-cache-bytes");
    assertThat(heap)
        .as("heap vs feature cache %d + %d clips", featureCache, cpus)
        .isGreaterThanOrEqualTo(featureCache + cpus * DECODED_CLIP_BYTES + (2L << 30));

    // Direct memory: a whole inbound message (an upload chunk or inline media) per handler thread,
    // as ServerConfig.maxInboundMessageBytes() computes it.
    long direct = jvmSize(jvm, "-XX:MaxDirectMemorySize=");
    long inbound =
        Math.max(
                v.<Integer>serverOption("--max-chunk-bytes"),
                v.<Long>serverOption("--max-inline-media-bytes"))
            + (1L << 20);
    int handlers = v.<Integer>serverOption("--handler-threads");
    assertThat(direct).isGreaterThanOrEqualTo(handlers * inbound);
    assertThat(bytes(requests.get("memory")))
        .as("memory request: heap + direct + 4 GiB for the CUDA context and libtorch")
        .isGreaterThanOrEqualTo(heap + direct + (4L << 30));

    // Only nodes whose GPU has at least 40 GB (GPU Feature Discovery's label, in MiB).
    List<NodeSelectorRequirement> required =
        v
            .serverDeployment()
            .getSpec()
            .getTemplate()
            .getSpec()
            .getAffinity()
            .getNodeAffinity()
            .getRequiredDuringSchedulingIgnoredDuringExecution()
            .getNodeSelectorTerms()
            .stream()
            .flatMap(t -> t.getMatchExpressions().stream())
            .filter(r -> r.getKey().equals("nvidia.com/gpu.memory"))
            .toList();
    assertThat(required).hasSize(1);
    NodeSelectorRequirement gpuMemory = required.get(0);
    assertThat(gpuMemory.getOperator()).isEqualTo("Gt");
    long minMib = Long.parseLong(gpuMemory.getValues().get(0)) + 1;
    assertThat(minMib * (1L << 20)).isGreaterThanOrEqualTo(40_000_000_000L);
    assertThat((minMib - 1) * (1L << 20)).isLessThan(40_000_000_000L);

    // The pool is sized from the GPU: no fixed block count, a fraction in (0, 1].
    assertThat(v.<Integer>serverOption("--kv-blocks")).isZero();
    assertThat(v.<Double>serverOption("--gpu-memory-fraction")).isBetween(0.5, 1.0);
  }
}
