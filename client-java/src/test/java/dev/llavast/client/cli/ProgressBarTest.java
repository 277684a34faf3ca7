package dev.llavast.client.cli;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class ProgressBarTest {
  @Test
  void rendersFractionAndAmount() {
    assertThat(ProgressBar.render("upload", 1 << 20, 2 << 20, true))
        .isEqualTo("upload [###############---------------]  50% 1.0/2.0 MiB");
    assertThat(ProgressBar.render("c=4", 3, 12, false))
        .isEqualTo("c=4 [########----------------------]  25% 3/12");
    assertThat(ProgressBar.render("x", 0, 0, false)).contains("100%");
  }
}
