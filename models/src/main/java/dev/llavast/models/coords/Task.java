package dev.llavast.models.coords;

/** The LLaVA-ST tasks (spec §10), which decide what a structured answer holds. */
public enum Task {
  /** Referring expression comprehension (image): the first box. */
  REC,
  /** Region captioning (image): free text. */
  REG,
  /** Dense grounded captioning (image): every box. */
  DGC,
  /** Temporal video grounding: the first span. */
  TVG,
  /** Temporal referring (video): free text. */
  TR,
  /** Spatio-temporal video grounding: the first span and every timed box. */
  STVG,
  /** Spatial video grounding: every timed box. */
  SVG,
  /** Event localisation and captioning: the end time, the caption and every timed box. */
  ELC,
  /** Dense video captioning: every span. */
  DVC,
  /** Anything else: text and whatever groups appear, uninterpreted. */
  FREE_FORM
}
