package dev.llavast.scheduler;

/** Test prepared media: the encoder turns it into {@code tokens} feature rows. */
record FakeMedia(String mediaKey, int tokens) implements PreparedMedia {
  @Override
  public long bytes() {
    return tokens;
  }
}
