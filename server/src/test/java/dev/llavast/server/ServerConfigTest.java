package dev.llavast.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.llavast.server.generation.DeviceSpec;
import dev.llavast.server.generation.EngineConfig;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

class ServerConfigTest {

  @Test
  void parsesDeviceLists() {
    assertThat(DeviceSpec.parse("cpu")).isEqualTo(new DeviceSpec(false, List.of(0)));
    assertThat(DeviceSpec.parse("cpu:3").names()).containsExactly("cpu:0", "cpu:1", "cpu:2");
    assertThat(DeviceSpec.parse("cuda:0,2")).isEqualTo(new DeviceSpec(true, List.of(0, 2)));
    assertThat(DeviceSpec.parse("CUDA:1").names()).containsExactly("cuda:1");
    for (String bad : List.of("gpu", "cpu:0", "cuda:", "cuda:0,,1", "cpu:2,3", "")) {
      assertThatThrownBy(() -> DeviceSpec.parse(bad))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("--devices must be")
          .hasMessageContaining("'" + bad + "'");
    }
    assertThatThrownBy(() -> DeviceSpec.parse("cuda:1,1")).hasMessageContaining("twice");
  }

  @Test
  void gpuMemoryFractionIsAFlagOfTheServerAndTheEngineWithinZeroToOne() {
    Main main = new Main();
    new CommandLine(main).parseArgs("--gpu-memory-fraction", "0.8", "--kv-blocks", "0");
    ServerConfig c = main.toConfig();
    assertThat(c.gpuMemoryFraction()).isEqualTo(0.8);
    assertThat(c.engine().gpuMemoryFraction()).isEqualTo(0.8);
    assertThat(ServerConfig.defaults().gpuMemoryFraction()).isEqualTo(0.9);
    assertThat(c.withEphemeralPorts().gpuMemoryFraction()).isEqualTo(0.8);
    for (String bad : List.of("0", "-0.5", "1.01", "NaN")) {
      Main m = new Main();
      new CommandLine(m).parseArgs("--gpu-memory-fraction", bad);
      assertThatThrownBy(m::toConfig)
          .as(bad)
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("--gpu-memory-fraction must be in (0, 1]");
    }
  }

  @Test
  void prefixCachingIsOnByDefaultAndTheFlagTurnsItOff() {
    Main on = new Main();
    new CommandLine(on).parseArgs();
    assertThat(on.toConfig().prefixCaching()).isTrue();
    assertThat(on.toConfig().engine().prefixCaching()).isTrue();
    Main off = new Main();
    new CommandLine(off).parseArgs("--no-prefix-caching", "--feature-cache-bytes", "0");
    assertThat(off.toConfig().prefixCaching()).isFalse();
    assertThat(off.toConfig().engine().prefixCaching()).isFalse();
    assertThat(off.toConfig().engine().featureCacheBytes()).isZero();
  }

  @Test
  void attentionFp32IsUnsetByDefaultAndEitherFlagFormReachesTheEngine() {
    Main unset = new Main();
    new CommandLine(unset).parseArgs();
    assertThat(unset.toConfig().attentionFp32()).as("the model's default").isNull();
    assertThat(unset.toConfig().engine().attentionFp32()).isNull();
    assertThat(ServerConfig.defaults().attentionFp32()).isNull();
    Main on = new Main();
    new CommandLine(on).parseArgs("--attention-fp32");
    assertThat(on.toConfig().attentionFp32()).isTrue();
    assertThat(on.toConfig().engine().attentionFp32()).isTrue();
    Main off = new Main();
    new CommandLine(off).parseArgs("--no-attention-fp32");
    assertThat(off.toConfig().attentionFp32()).isFalse();
    assertThat(off.toConfig().engine().attentionFp32()).isFalse();
    assertThat(off.toConfig().withEphemeralPorts().engine().attentionFp32()).isFalse();
  }

  @Test
  void theBuilderStartsFromTheDefaultsAndACopyKeepsEveryComponent() {
    assertThat(ServerConfig.builder().build()).isEqualTo(ServerConfig.defaults());
    Main main = new Main();
    new CommandLine(main)
        .parseArgs(
            "--no-prefix-caching",
            "--no-attention-fp32",
            "--decode-threads",
            "3",
            "--media-nice",
            "5",
            "--gpu-memory-fraction",
            "0.5",
            "--shared-caches",
            "--max-inline-media-bytes",
            "4096");
    ServerConfig c = main.toConfig();
    assertThat(c.toBuilder().build()).isEqualTo(c);
    assertThat(c.toBuilder().kvBlocks(7).build())
        .isEqualTo(
            ServerConfig.builder()
                .host(c.host())
                .devices(c.devices())
                .prefixCaching(false)
                .attentionFp32(false)
                .decodeThreads(3)
                .mediaNice(5)
                .gpuMemoryFraction(0.5)
                .security(c.security())
                .maxInlineMediaBytes(4096)
                .kvBlocks(7)
                .build());
    assertThatThrownBy(() -> c.toBuilder().kvBlockSize(0).build())
        .as("build() validates as the constructor does")
        .hasMessage("--kv-block-size must be in [1, 4096], got 0");
  }

  @Test
  void flagsMapOntoTheConfig() {
    Main main = new Main();
    new CommandLine(main)
        .parseArgs(
            "--port",
            "6000",
            "--metrics-port",
            "-1",
            "--devices",
            "cpu:2",
            "--drain-timeout",
            "45s",
            "--session-ttl",
            "2m",
            "--max-queued-requests",
            "10",
            "--kv-blocks",
            "512");
    ServerConfig c = main.toConfig();
    assertThat(c.port()).isEqualTo(6000);
    assertThat(c.metricsPort()).isEqualTo(-1);
    assertThat(c.deviceSpec().names()).containsExactly("cpu:0", "cpu:1");
    assertThat(c.drainTimeout()).isEqualTo(Duration.ofSeconds(45));
    assertThat(c.sessionTtl()).isEqualTo(Duration.ofMinutes(2));
    assertThat(c.maxQueuedRequests()).isEqualTo(10);
    assertThat(c.kvBlocks()).isEqualTo(512);
    assertThat(c.modelDir()).isEmpty();
    assertThat(c.maxInlineMediaBytes()).isEqualTo(32L << 20);
    assertThat(c.maxInboundMessageBytes())
        .as("the largest media field plus 1 MiB")
        .isEqualTo(33 << 20);

    Main inline = new Main();
    new CommandLine(inline)
        .parseArgs("--max-inline-media-bytes", "1048576", "--max-chunk-bytes", "2097152");
    assertThat(inline.toConfig().maxInlineMediaBytes()).isEqualTo(1 << 20);
    assertThat(inline.toConfig().maxInboundMessageBytes()).isEqualTo(3 << 20);
  }

  @Test
  void rejectsOutOfRangeValuesNamingTheFlag() {
    Main main = new Main();
    new CommandLine(main)
        .parseArgs("--default-max-new-tokens", "9000", "--max-new-tokens-limit", "4096");
    assertThatThrownBy(main::toConfig)
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("--default-max-new-tokens must be in [1, 4096], got 9000");

    int exit =
        new CommandLine(new Main())
            .setErr(new java.io.PrintWriter(java.io.Writer.nullWriter()))
            .execute("--drain-timeout", "soon");
    assertThat(exit).isEqualTo(2);
  }

  @Test
  void decodeThreadsFlagReachesTheEngineAndIsBounded() {
    Main main = new Main();
    new CommandLine(main).parseArgs("--decode-threads", "3");
    assertThat(main.toConfig().decodeThreads()).isEqualTo(3);
    assertThat(main.toConfig().engine().effectiveDecodeThreads()).isEqualTo(3);
    ServerConfig d = ServerConfig.defaults();
    assertThat(d.decodeThreads()).isZero();
    assertThat(d.engine().effectiveDecodeThreads())
        .isEqualTo(dev.llavast.models.media.MediaDecoder.defaultDecodeThreads());
    assertThat(d.toBuilder().decodeThreads(2).build().decodeThreads()).isEqualTo(2);
    Main bad = new Main();
    new CommandLine(bad).parseArgs("--decode-threads", "17");
    assertThatThrownBy(bad::toConfig)
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("--decode-threads must be in [0, 16]");
  }

  @Test
  void mediaNiceFlagReachesTheEngineAndIsBounded() {
    assertThat(ServerConfig.defaults().mediaNice()).isEqualTo(EngineConfig.DEFAULT_MEDIA_NICE);
    Main main = new Main();
    new CommandLine(main).parseArgs("--media-nice", "0");
    assertThat(main.toConfig().engine().mediaNice()).as("0 turns it off").isZero();
    for (String bad : new String[] {"-1", "20"}) {
      Main m = new Main();
      new CommandLine(m).parseArgs("--media-nice", bad);
      assertThatThrownBy(m::toConfig)
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessage("--media-nice must be in [0, 19], got " + bad);
    }
  }

  @Test
  void durationConverterAcceptsCommonForms() {
    Main.DurationConverter c = new Main.DurationConverter();
    assertThat(c.convert("250ms")).isEqualTo(Duration.ofMillis(250));
    assertThat(c.convert("1.5s")).isEqualTo(Duration.ofMillis(1500));
    assertThat(c.convert("3m")).isEqualTo(Duration.ofMinutes(3));
    assertThat(c.convert("1h")).isEqualTo(Duration.ofHours(1));
    assertThat(c.convert("PT20S")).isEqualTo(Duration.ofSeconds(20));
    assertThat(c.convert("12")).isEqualTo(Duration.ofSeconds(12));
    assertThatThrownBy(() -> c.convert("x")).hasMessageContaining("is not a duration");
  }
}
