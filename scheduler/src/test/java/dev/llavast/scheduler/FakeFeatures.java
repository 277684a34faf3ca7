package dev.llavast.scheduler;

/** Test media features: only a key and a row count. */
record FakeFeatures(String mediaKey, int tokenCount) implements MediaFeatures {
  @Override
  public long bytes() {
    return tokenCount * 4L;
  }
}
