package dev.llavast.server.generation;

import static org.assertj.core.api.Assertions.assertThat;

import dev.llavast.models.coords.Task;
import java.util.List;
import org.junit.jupiter.api.Test;

class PromptRendererTest {
  // A 30 fps clip of 301 frames (10 s, D - 1 = 300) at 640x480.
  private static final PromptRenderer.Geometry G = new PromptRenderer.Geometry(301, 30, 640, 480);

  @Test
  void structuredPartsBecomeShorthandNormalizedBySpec() {
    Question p =
        Question.parts(
            List.of(
                new Question.Text("What happens during "),
                new Question.Span(4.09, 6.39),
                new Question.Text(" to the object in "),
                new Question.Box(192, 21.6, 463.36, 480),
                new Question.Text("? Starts in "),
                new Question.Time(12))); // past the clip: clipped to 1
    // 4.09 s * 30 / 300 = 0.409; 6.39 -> 0.639; 192/640 = 0.3; 21.6/480 = 0.045; 463.36/640 =
    // 0.724; 480/480 = 1
    assertThat(PromptRenderer.render(p, Task.FREE_FORM, G))
        .isEqualTo(
            "What happens during {<t0.409>,<t0.639>} to the object in [<w0.3>,<h0.045>,<w0.724>,<h1>]? Starts in <t1>");
  }

  @Test
  void plainTextPassesThroughAndTemplatesWrapIt() {
    Question p = Question.text("person dressing by putting a jacket on");
    assertThat(PromptRenderer.render(p, Task.TVG, G))
        .isEqualTo(
            "Give you a textual query: 'person dressing by putting a jacket on'. When does the described content occur "
                + "in the video? Please return the start and end timestamps.");
    assertThat(PromptRenderer.wrap(Task.STVG, "a child wearing a red hat holds a bat"))
        .isEqualTo(
            "At which time interval in the video can we see a child wearing a red hat holds a bat occurring? Please "
                + "describe the location of the corresponding subject/object in this video.Please firstly give the "
                + "timestamps, and then give the spatial bounding box corresponding to each timestamp in the time period.");
    assertThat(PromptRenderer.wrap(Task.FREE_FORM, "anything")).isEqualTo("anything");
    assertThat(PromptRenderer.wrap(Task.DVC, "Describe every event."))
        .isEqualTo("Describe every event.");
  }

  @Test
  void shorthandRoundsToThreeDecimalsAndClips() {
    assertThat(PromptRenderer.shorthand('t', 0.4094)).isEqualTo("<t0.409>");
    assertThat(PromptRenderer.shorthand('t', 0.0)).isEqualTo("<t0>");
    assertThat(PromptRenderer.shorthand('w', -0.2)).isEqualTo("<w0>");
    assertThat(PromptRenderer.shorthand('h', 1.7)).isEqualTo("<h1>");
    assertThat(PromptRenderer.shorthand('h', 0.05)).isEqualTo("<h0.05>");
    // An image (no fps) has no time axis: time normalizes to 0.
    assertThat(PromptRenderer.normalizedTime(3, new PromptRenderer.Geometry(1, 0, 10, 10)))
        .isZero();
  }
}
