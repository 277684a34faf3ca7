package dev.llavast.models.tokenizer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.llavast.models.ModelConfig;
import dev.llavast.models.TinyCheckpoints;
import dev.llavast.scheduler.MediaFeatures;
import dev.llavast.scheduler.PromptInput;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ChatTemplateTest {
  @TempDir static Path dir;
  static Tokenizer tok;
  static ChatTemplate template;
  static SpecialTokens sp;

  record FakeFeatures(String mediaKey, int tokenCount) implements MediaFeatures {
    @Override
    public long bytes() {
      return 0;
    }
  }

  @BeforeAll
  static void setUp() throws Exception {
    ModelConfig config = TinyCheckpoints.write(dir, TinyCheckpoints.Preset.TINY, 3L);
    tok = Tokenizer.load(dir, config);
    template = new ChatTemplate(tok, config);
    sp = tok.specialTokens();
  }

  @AfterAll
  static void tearDown() {
    tok.close();
  }

  private static int count(int[] ids, int id) {
    int n = 0;
    for (int x : ids) {
      if (x == id) {
        n++;
      }
    }
    return n;
  }

  @Test
  void videoPromptHasTheSpecLayoutAndTokenizesLikeTheWholeString() {
    String q = "When does the person open the door?";
    RenderedPrompt p = template.render(ChatTemplate.Media.VIDEO, q);
    int[] ids = p.tokenIds();
    int p0 = p.mediaStart();
    assertThat(ids[p0]).isEqualTo(sp.vidStart());
    assertThat(count(ids, sp.vidStart())).isEqualTo(1);
    assertThat(ids[p0 + 899]).isEqualTo(sp.vidEnd());
    assertThat(ids[p0 + 900]).isEqualTo(sp.slowVidStart());
    assertThat(ids[p0 + 2519]).isEqualTo(sp.slowVidEnd());
    assertThat(count(ids, sp.vidPatch())).isEqualTo(898 + 1618);
    assertThat(p.visualStart()).isEqualTo(p0 + 900);
    assertThat(p.visualLength()).isEqualTo(1620);
    assertThat(p.valueTokens()).isEmpty();

    // the reference's text, tokenized in one piece, must give the same ids (spec §6.1/§6.2)
    String value =
        "<vid_start>"
            + "<vid_patch>".repeat(898)
            + "<vid_end>"
            + "<slow_vid_start>"
            + "<vid_patch>".repeat(1618)
            + "<slow_vid_end>"
            + "\n"
            + q;
    String prefix =
        "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n";
    String whole = prefix + value + "<|im_end|>\n<|im_start|>assistant\n";
    assertThat(ids).isEqualTo(tok.encode(whole));
    assertThat(p0).isEqualTo(tok.encode(prefix).length);
    // total = prefix + 2520 + "\n"+question + suffix (<|im_end|> \n <|im_start|> assistant \n)
    assertThat(ids.length)
        .isEqualTo(
            p0
                + 2520
                + tok.encode("\n" + q).length
                + tok.encode("<|im_end|>\n<|im_start|>assistant\n").length);
    assertThat(ids[ids.length - 1]).isEqualTo(tok.encode("\n")[0]);
  }

  @Test
  void imagePromptOverwritesAll729Positions() {
    RenderedPrompt p = template.render(ChatTemplate.Media.IMAGE, "Where is the catcher?");
    int[] ids = p.tokenIds();
    int p0 = p.mediaStart();
    assertThat(ids[p0]).isEqualTo(sp.imageStart());
    assertThat(ids[p0 + 728]).isEqualTo(sp.imageEnd());
    assertThat(count(ids, sp.imagePatch())).isEqualTo(727);
    assertThat(p.visualStart()).isEqualTo(p0);
    assertThat(p.visualLength()).isEqualTo(729);
    PromptInput in = p.toPromptInput(new FakeFeatures("img", 729));
    assertThat(in.visualSpans())
        .singleElement()
        .satisfies(
            s -> {
              assertThat(s.start()).isEqualTo(p0);
              assertThat(s.length()).isEqualTo(729);
              assertThat(s.featureOffset()).isZero();
            });
    assertThatThrownBy(() -> p.toPromptInput(new FakeFeatures("vid", 1620)))
        .hasMessageContaining("splices 729 feature rows, but vid has 1620");
    assertThatThrownBy(() -> p.toPromptInput(null)).hasMessageContaining("needs media features");
  }

  @Test
  void shorthandBecomesValueSlotsWithRoundedClippedValues() {
    String q =
        "Describe {<t0.409>,<t0.6395>} in [<w0.523>,<h0.621>,<w1.7>,<h-0.2>] and <TEMP-OUTPUT0.25>.";
    RenderedPrompt p = template.render(ChatTemplate.Media.VIDEO, q);
    int[] ids = p.tokenIds();
    List<PromptInput.ValueToken> v = p.valueTokens();
    assertThat(v).hasSize(7);
    int[] expectedIds = {
      sp.tempInput(),
      sp.tempInput(),
      sp.widthInput(),
      sp.heightInput(),
      sp.widthInput(),
      sp.heightInput(),
      sp.tempOutput()
    };
    // 0.6395 is 0.63949999999999995737 in binary: Python rounds it down
    float[] expectedValues = {0.409f, 0.639f, 0.523f, 0.621f, 1f, 0f, 0.25f};
    for (int i = 0; i < v.size(); i++) {
      assertThat(ids[v.get(i).position()]).isEqualTo(expectedIds[i]);
      assertThat(v.get(i).value()).isEqualTo(expectedValues[i]);
      assertThat(v.get(i).position()).isGreaterThan(p.visualStart() + p.visualLength());
    }
    // identical ids to the reference text with the bare slot tokens
    String refQ =
        "Describe {<TEMP-INPUT>,<TEMP-INPUT>} in [<WIDTH-INPUT>,<HEIGHT-INPUT>,<WIDTH-INPUT>,"
            + "<HEIGHT-INPUT>] and <TEMP-OUTPUT>.";
    RenderedPrompt plain = template.render(ChatTemplate.Media.NONE, "x");
    assertThat(tok.decode(ids)).contains(refQ);
    assertThat(plain.valueTokens()).isEmpty();
    PromptInput in = p.toPromptInput(new FakeFeatures("v", 1620));
    assertThat(in.valueTokens()).isEqualTo(v);
  }

  @Test
  void pythonRoundingIsHalfEvenOnTheExactBinaryValue() {
    assertThat(ChatTemplate.normalize("0.12345")).isEqualTo(0.123f);
    assertThat(ChatTemplate.normalize("0.0005"))
        .isEqualTo(0.001f); // 0.0005 is 0.000500000000000000010408...: up
    assertThat(ChatTemplate.normalize("0.0015"))
        .isEqualTo(0.002f); // binary 0.00150000000000000003123: up
    assertThat(ChatTemplate.normalize("0.1235"))
        .isEqualTo(0.123f); // binary 0.12349999999999999811: down
    assertThat(ChatTemplate.normalize("1")).isEqualTo(1f);
    assertThat(ChatTemplate.normalize(".5")).isEqualTo(0.5f);
  }

  @Test
  void malformedShorthandAndReservedTokensAreRejectedClearly() {
    assertThatThrownBy(() -> template.render(ChatTemplate.Media.VIDEO, "at <t0.4.1> go"))
        .isInstanceOf(PromptFormatException.class)
        .hasMessageContaining("malformed coordinate '<t0.4.1>' at character 3");
    assertThatThrownBy(() -> template.render(ChatTemplate.Media.VIDEO, "at <t> go"))
        .isInstanceOf(PromptFormatException.class)
        .hasMessageContaining("malformed coordinate '<t>'");
    assertThatThrownBy(() -> template.render(ChatTemplate.Media.VIDEO, "at <w.> go"))
        .isInstanceOf(PromptFormatException.class)
        .hasMessageContaining("'<w.>'");
    assertThatThrownBy(() -> template.render(ChatTemplate.Media.VIDEO, "at <TEMP-INPUT> go"))
        .isInstanceOf(PromptFormatException.class)
        .hasMessageContaining("'<TEMP-INPUT>'");
    assertThatThrownBy(() -> template.render(ChatTemplate.Media.VIDEO, "hi<|im_end|>"))
        .isInstanceOf(PromptFormatException.class)
        .hasMessageContaining("reserved token <|im_end|> at character 2");
    assertThatThrownBy(() -> template.render(ChatTemplate.Media.IMAGE, "a <vid_patch>"))
        .isInstanceOf(PromptFormatException.class)
        .hasMessageContaining("<vid_patch>");
    // ordinary angle-bracket text is not a coordinate
    RenderedPrompt p = template.render(ChatTemplate.Media.NONE, "a <table> and <tr>");
    assertThat(p.valueTokens()).isEmpty();
    assertThat(tok.decode(p.tokenIds())).contains("a <table> and <tr>");
  }

  @Test
  void multiTurnPutsMediaInTheFirstTurnAndFeedsBinIdsBack() {
    int bin = sp.firstTempBin() + 12;
    List<ChatTemplate.Turn> history =
        List.of(
            ChatTemplate.Turn.ids("When?", tok.encode("At ")[0], bin),
            ChatTemplate.Turn.text(
                "And the box?", "[<WIDTH-001><HEIGHT-002><WIDTH-003><HEIGHT-004>]"));
    RenderedPrompt p =
        template.render("Be brief.", ChatTemplate.Media.VIDEO, history, "Then <t0.5>?");
    int[] ids = p.tokenIds();
    String text = tok.decode(ids);
    assertThat(text)
        .startsWith("<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\n<vid_start>");
    assertThat(text).contains("\nWhen?<|im_end|>\n<|im_start|>assistant\nA<TEMP-012><|im_end|>\n");
    assertThat(text).contains("[<WIDTH-001><HEIGHT-002><WIDTH-003><HEIGHT-004>]<|im_end|>\n");
    assertThat(text)
        .endsWith("<|im_start|>user\nThen <TEMP-INPUT>?<|im_end|>\n<|im_start|>assistant\n");
    assertThat(count(ids, sp.vidStart())).isEqualTo(1);
    assertThat(count(ids, bin)).isEqualTo(1);
    assertThat(count(ids, sp.firstWidthBin() + 1)).isEqualTo(1);
    assertThat(p.valueTokens())
        .singleElement()
        .satisfies(v -> assertThat(v.value()).isEqualTo(0.5f));
    assertThat(ids[p.mediaStart()]).isEqualTo(sp.vidStart());
    assertThatThrownBy(
            () ->
                template.render(
                    null,
                    ChatTemplate.Media.NONE,
                    List.of(ChatTemplate.Turn.ids("q", sp.imEnd())),
                    "x"))
        .isInstanceOf(PromptFormatException.class)
        .hasMessageContaining("assistant turn id " + sp.imEnd());
  }
}
