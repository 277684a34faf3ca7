package dev.llavast.k8s;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import tools.jackson.core.JacksonException;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.MappingIterator;
import tools.jackson.databind.ObjectMapper;
import tools.jackson.dataformat.yaml.YAMLMapper;

/** Reads YAML (one or many documents) into Jackson trees. Stateless; any thread. */
final class Yaml {
  static final ObjectMapper MAPPER = YAMLMapper.builder().build();

  private Yaml() {}

  /** Every non-empty document of {@code text}, in order. {@code source} names it in errors. */
  static List<JsonNode> readAll(String text, String source) {
    List<JsonNode> docs = new ArrayList<>();
    try (MappingIterator<JsonNode> it = MAPPER.readerFor(JsonNode.class).readValues(text)) {
      while (it.hasNextValue()) {
        JsonNode doc = it.nextValue();
        if (doc != null && !doc.isNull() && !doc.isMissingNode()) {
          if (!doc.isObject()) {
            throw new IllegalArgumentException(
                source + ": a YAML document must be a mapping, got " + doc.getNodeType());
          }
          docs.add(doc);
        }
      }
    } catch (JacksonException e) {
      throw new IllegalArgumentException(source + ": not valid YAML: " + e.getOriginalMessage(), e);
    }
    return docs;
  }

  static List<JsonNode> readAll(Path file) {
    return readAll(read(file), file.toString());
  }

  /** The one document of {@code text}; fails if there are none or several. */
  static JsonNode readOne(String text, String source) {
    List<JsonNode> docs = readAll(text, source);
    if (docs.size() != 1) {
      throw new IllegalArgumentException(
          source + ": expected exactly one YAML document, got " + docs.size());
    }
    return docs.get(0);
  }

  static String read(Path file) {
    try {
      return Files.readString(file);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + file, e);
    }
  }
}
