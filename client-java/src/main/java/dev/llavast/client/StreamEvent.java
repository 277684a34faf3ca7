package dev.llavast.client;

/**
 * One message of a generation stream: zero or more {@link Delta}s, then exactly one {@link Answer}.
 */
public sealed interface StreamEvent permits Delta, Answer {}
