package dev.llavast.client.eval;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.llavast.api.v1.Task;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The data set readers on small fixtures, and their errors naming the line or field at fault. */
class DatasetsTest {
  @TempDir Path dir;

  @Test
  void charadesRawLinesAreSecondsAndVideosByName() throws Exception {
    Path f =
        Files.writeString(
            dir.resolve("test.txt"),
            "3MSZA 24.3 30.4##person turn a light on.\n\n"
                + "AO8RW 0.0 6.9##a person is putting a book on a shelf.\n");
    List<EvalSample> s = Datasets.load("charades", f, dir);
    assertThat(s).hasSize(2);
    assertThat(s.get(0).task()).isEqualTo(Task.TASK_TVG);
    assertThat(s.get(0).media()).isEqualTo(dir.resolve("3MSZA.mp4"));
    assertThat(s.get(0).question()).isEqualTo("person turn a light on");
    assertThat(s.get(0).truth()).isEqualTo(new EvalSample.SpanTruth(24.3, 30.4, true));
    assertThat(s.get(1).id()).isEqualTo("AO8RW#3");
  }

  @Test
  void aMalformedLineIsNamed() throws Exception {
    Path f = Files.writeString(dir.resolve("bad.txt"), "A 1 2##ok\nB 1##missing end\n");
    assertThatThrownBy(() -> Datasets.load("charades", f, dir))
        .isInstanceOf(Datasets.DatasetException.class)
        .hasMessageContaining("bad.txt:2")
        .hasMessageContaining("VIDEO START END##sentence");
    Path g = Files.writeString(dir.resolve("bad2.txt"), "A 5 2##backwards\n");
    assertThatThrownBy(() -> Datasets.load("charades", g, dir)).hasMessageContaining("bad2.txt:1");
  }

  @Test
  void refcocoBoxesAreNormalizedRoundedAndClippedAsTheReference() throws Exception {
    Path f =
        Files.writeString(
            dir.resolve("refcoco_val.json"),
            "{\"images\":[{\"id\":7,\"file_name\":\"a.jpg\","
                + "\"height\":200,\"width\":400,\"caption\":\"man in red\"}],\"annotations\":[{\"id\":7,"
                + "\"bbox\":[100,50,350,160]}]}");
    EvalSample s = Datasets.load("refcoco", f, dir).get(0);
    assertThat(s.task()).isEqualTo(Task.TASK_REC);
    assertThat(s.question()).isEqualTo("man in red");
    // x2 = (100 + 350) / 400 = 1.125 -> clipped to 1; y2 = 210 / 200 -> 1
    assertThat(s.truth()).isEqualTo(new EvalSample.BoxTruth(0.25, 0.25, 1.0, 1.0, 400, 200));
    Path bad =
        Files.writeString(
            dir.resolve("r2.json"),
            "{\"images\":[{\"id\":1,\"file_name\":\"a.jpg\","
                + "\"height\":2,\"width\":2,\"caption\":\"x\"}],\"annotations\":[{\"id\":2,\"bbox\":[0,0,1,1]}]}");
    assertThatThrownBy(() -> Datasets.load("refcoco", bad, dir))
        .hasMessageContaining("images[0].id");
  }

  @Test
  void stAlignPromptsGetShorthandCoordinatesAndTheTruthKeepsSampledFrames() throws Exception {
    Path f =
        Files.writeString(
            dir.resolve("stvg.json"),
            "[{\"video_path\":\"v.mp4\",\"meta\":{\"width\":100,"
                + "\"height\":50,\"split\":[10,208],\"time_token\":{\"<s>\":50,\"<e>\":109},\"spatial_token\":"
                + "{\"<bboxes>\":{\"50\":[10,10,20,20],\"51\":[1,1,2,2]}}},\"conversations\":[{\"value\":"
                + "\"<video>\\nWhere is the dog?\"},{\"value\":\"answer\"}]}]");
    EvalSample s = Datasets.load("stvg", f, dir).get(0);
    assertThat(s.clip()).containsExactly(10, 208);
    assertThat(s.question()).startsWith("Where is the dog?Please firstly give the timestamps");
    EvalSample.StTruth t = (EvalSample.StTruth) s.truth();
    assertThat(t.start()).isEqualTo(0.202); // (50 - 10) / 198
    assertThat(t.end()).isEqualTo(0.5); // (109 - 10) / 198
    // frames sampled from [10, 208]: 10 + rint(i * 2): 50 is one, 51 is not
    assertThat(t.boxes()).containsOnlyKeys(50);
    assertThat(t.boxes().get(50)).containsExactly(10, 10, 30, 30);
  }

  @Test
  void anUnknownFormatListsTheKnownOnes() {
    assertThatThrownBy(() -> Datasets.load("kinetics", dir.resolve("x"), dir))
        .hasMessageContaining("charades");
  }
}
