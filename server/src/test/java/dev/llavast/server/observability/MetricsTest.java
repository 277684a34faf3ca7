package dev.llavast.server.observability;

import static org.assertj.core.api.Assertions.assertThat;

import io.prometheus.metrics.expositionformats.PrometheusTextFormatWriter;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class MetricsTest {

  @Test
  void exposesTheDocumentedNames() throws Exception {
    PrometheusRegistry registry = new PrometheusRegistry();
    Metrics m = new Metrics(registry);
    m.modelInfo("llava-st-demo-tiny", "float32", "cpu:0", true);
    m.featureCache(() -> 1234, () -> 2);
    m.requestSuccess.labelValues("stop").inc();
    m.requestFailure.labelValues("OVERLOADED").inc();
    m.scheduler(
        () ->
            new dev.llavast.scheduler.SchedulerStats(
                3,
                7500,
                java.util.List.of(
                    new dev.llavast.scheduler.SchedulerStats.WorkerStats(
                        0, "cpu()", true, 2, 1, 4, 100, 25, 10, 0, 5, 4000, 3000, 50, 0))),
        i -> "cpu:" + i);
    m.sessions(() -> 2);
    m.forcedTokens(() -> 17);
    m.nonFiniteLogits(() -> 3);
    m.constrainedRequests.labelValues("task_shape").inc();
    m.ttft.observe(0.3);
    m.e2e.observe(600);

    ByteArrayOutputStream out = new ByteArrayOutputStream();
    PrometheusTextFormatWriter.create().write(out, registry.scrape());
    String text = out.toString(StandardCharsets.UTF_8);
    assertThat(text)
        .contains(
            "llavast_requests_running 4",
            "llavast_requests_waiting 5",
            "llavast_kv_cache_usage_ratio{worker=\"cpu:0\"} 0.25",
            "llavast_feature_cache_bytes 1234",
            "llavast_sessions_active 2",
            "llavast_model_info{devices=\"cpu:0\",dtype=\"float32\",model=\"llava-st-demo-tiny\",random_weights=\"true\"} 1",
            "llavast_prompt_tokens_total ",
            "llavast_generation_tokens_total ",
            "llavast_request_success_total{finish_reason=\"stop\"} 1",
            "llavast_request_failure_total{reason=\"OVERLOADED\"} 1",
            "llavast_preemptions_total 5",
            "llavast_prefix_cache_queries_total 4000",
            "llavast_prefix_cache_hits_total 3000",
            "llavast_feature_cache_evictions_total 2",
            "llavast_forced_tokens_total 17",
            "llavast_nonfinite_logits_total 3",
            "llavast_constrained_requests_total{mode=\"task_shape\"} 1",
            "llavast_time_to_first_token_seconds_bucket{le=\"0.3\"} 1",
            "llavast_time_to_first_token_seconds_bucket{le=\"40.0\"} 1",
            "llavast_inter_token_latency_seconds_bucket{le=\"0.64\"} 0",
            "llavast_e2e_request_latency_seconds_bucket{le=\"655.36\"} 1",
            "llavast_request_queue_time_seconds_count 0",
            "llavast_media_decode_seconds_count 0",
            "llavast_media_stage_cpu_seconds_total{stage=\"resize\"} 0.0",
            "llavast_media_stage_frames_total{stage=\"decode\"} 0.0",
            "llavast_vision_encode_seconds_count 0",
            "llavast_step_duration_seconds_count 0",
            "llavast_batch_size_count 0",
            "llavast_request_prompt_tokens_count 0",
            "llavast_request_generation_tokens_count 0");
  }
}
