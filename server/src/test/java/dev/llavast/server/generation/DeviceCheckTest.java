package dev.llavast.server.generation;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import ai.djl.Device;
import dev.llavast.server.Main;
import dev.llavast.server.generation.DeviceReport.DeviceMemory;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/**
 * The start-up device check: a fixed {@link DeviceReport} stands for machines we do not have (a
 * CUDA libtorch with one GPU, a CPU libtorch on a GPU node), and the real DJL report of this CPU
 * machine shows the path a misconfigured GPU pod takes.
 */
class DeviceCheckTest {
  private static final long GIB = 1L << 30;

  /** A machine as a fixed report: CUDA or not, this many GPUs, each with this much free memory. */
  private record FixedReport(boolean cudaBuild, int gpuCount, Optional<DeviceMemory> each)
      implements DeviceReport {
    @Override
    public String library() {
      return cudaBuild ? "PyTorch 2.7.1 from /opt/libtorch/lib" : "PyTorch 2.7.1 from /cache/cpu";
    }

    @Override
    public Optional<DeviceMemory> memory(Device device) {
      return device.isGpu() && device.getDeviceId() < gpuCount ? each : Optional.empty();
    }
  }

  private static final FixedReport ONE_H100 =
      new FixedReport(true, 1, Optional.of(new DeviceMemory(60 * GIB, 80 * GIB)));
  private static final FixedReport CPU_LIBTORCH = new FixedReport(false, 0, Optional.empty());

  @Test
  void aCpuDeviceListAsksNothing() {
    assertThatCode(() -> DeviceCheck.require(DeviceSpec.parse("cpu:2"), 0, CPU_LIBTORCH, Map.of()))
        .doesNotThrowAnyException();
  }

  @Test
  void aGpuThatExistsWithCudaLibtorchPasses() {
    assertThatCode(() -> DeviceCheck.require(DeviceSpec.parse("cuda:0"), 0, ONE_H100, Map.of()))
        .doesNotThrowAnyException();
  }

  @Test
  void cpuLibtorchWithoutTheLibraryPathNamesEveryVariable() {
    assertThatThrownBy(
            () -> DeviceCheck.require(DeviceSpec.parse("cuda:0"), 0, CPU_LIBTORCH, Map.of()))
        .isInstanceOf(DeviceUnavailableException.class)
        .hasMessageContaining("--devices cuda:0 needs a CUDA build of libtorch")
        .hasMessageContaining("PYTORCH_LIBRARY_PATH is not set")
        .hasMessageContaining("PYTORCH_VERSION=2.7.1")
        .hasMessageContaining("PYTORCH_FLAVOR=cu128")
        .hasMessageContaining("-Pcuda")
        .hasMessageContaining("/cache/cpu");
  }

  @Test
  void aLibraryPathWithoutFlavorNamesTheFlavor() {
    assertThatThrownBy(
            () ->
                DeviceCheck.require(
                    DeviceSpec.parse("cuda:0"),
                    0,
                    CPU_LIBTORCH,
                    Map.of("PYTORCH_LIBRARY_PATH", "/opt/libtorch/lib")))
        .isInstanceOf(DeviceUnavailableException.class)
        .hasMessageContaining(
            "PYTORCH_LIBRARY_PATH=/opt/libtorch/lib but PYTORCH_FLAVOR is not set")
        .hasMessageContaining("Set PYTORCH_FLAVOR=cu128");
  }

  @Test
  void aMissingDeviceIsNamedWithTheOnesThatExist() {
    assertThatThrownBy(
            () -> DeviceCheck.require(DeviceSpec.parse("cuda:0,1,3"), 0, ONE_H100, Map.of()))
        .isInstanceOf(DeviceUnavailableException.class)
        .hasMessageContaining("cuda:1, cuda:3 do not exist")
        .hasMessageContaining("sees 1 GPU (cuda:0)")
        .hasMessageContaining("CUDA_VISIBLE_DEVICES");
    FixedReport two = new FixedReport(true, 2, ONE_H100.each());
    assertThatThrownBy(() -> DeviceCheck.require(DeviceSpec.parse("cuda:2"), 0, two, Map.of()))
        .hasMessageContaining("cuda:2 does not exist")
        .hasMessageContaining("sees 2 GPUs (cuda:0..cuda:1)");
  }

  @Test
  void cudaWithoutAnyVisibleGpuNamesTheResourceRequest() {
    assertThatThrownBy(
            () ->
                DeviceCheck.require(
                    DeviceSpec.parse("cuda:0"),
                    0,
                    new FixedReport(true, 0, Optional.empty()),
                    Map.of()))
        .isInstanceOf(DeviceUnavailableException.class)
        .hasMessageContaining("sees no GPU")
        .hasMessageContaining("nvidia.com/gpu")
        .hasMessageContaining("NVIDIA_DRIVER_CAPABILITIES=compute,utility");
  }

  @Test
  void unreadableMemoryFailsOnlyWhenThePoolIsSizedFromIt() {
    FixedReport blind = new FixedReport(true, 1, Optional.empty());
    assertThatThrownBy(() -> DeviceCheck.require(DeviceSpec.parse("cuda:0"), 0, blind, Map.of()))
        .isInstanceOf(DeviceUnavailableException.class)
        .hasMessageContaining("free memory of cuda:0 cannot be read")
        .hasMessageContaining("LD_LIBRARY_PATH")
        .hasMessageContaining("--kv-blocks");
    assertThatCode(() -> DeviceCheck.require(DeviceSpec.parse("cuda:0"), 4096, blind, Map.of()))
        .as("an explicit --kv-blocks needs no memory figure")
        .doesNotThrowAnyException();
  }

  /**
   * On a machine whose libtorch is the CPU build (the default test class path, no
   * PYTORCH_LIBRARY_PATH) the real report says so and the check refuses cuda:0. Skipped where a
   * CUDA libtorch is loaded: there GpuEngineTest (tag gpu) covers the real report.
   */
  @Test
  void theRealReportOfACpuLibtorchRefusesCuda() {
    DeviceReport real = DeviceReport.djl();
    assumeFalse(real.cudaBuild(), "a CUDA libtorch is loaded here: " + real.library());
    assertThat(real.gpuCount()).isZero();
    assertThat(real.memory(Device.cpu())).isEmpty();
    assertThat(real.library()).startsWith("PyTorch 2.7.1 from ");
    assertThatThrownBy(
            () -> DeviceCheck.require(DeviceSpec.parse("cuda:0"), 0, real, System.getenv()))
        .isInstanceOf(DeviceUnavailableException.class)
        .hasMessageContaining("PYTORCH_LIBRARY_PATH");
  }

  /** The server's command line exits non-zero before loading anything. */
  @Test
  void theServerExitsWithTheConfigurationStatus() {
    // With CUDA libtorch loaded the server would start and serve; this is about the refusal.
    assumeFalse(DeviceReport.djl().cudaBuild(), "a CUDA libtorch is loaded here");
    int status =
        new CommandLine(new Main())
            .execute(
                "--devices=cuda:0",
                "--port=0",
                "--metrics-port=-1",
                "--http-port=-1",
                "--host=127.0.0.1");
    assertThat(status).isEqualTo(DeviceUnavailableException.EXIT_CODE).isEqualTo(78);
  }
}
