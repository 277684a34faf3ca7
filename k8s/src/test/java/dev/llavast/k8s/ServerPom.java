package dev.llavast.k8s;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import javax.xml.parsers.DocumentBuilderFactory;
import javax.xml.parsers.ParserConfigurationException;
import org.w3c.dom.Document;
import org.w3c.dom.Element;
import org.w3c.dom.Node;
import org.xml.sax.SAXException;

/**
 * What the images depend on in the Maven build, read from the POMs themselves: the server module's
 * shaded jar name with and without {@code -Pcuda}, what the cuda profile leaves out of it, and the
 * parent's DJL and PyTorch versions.
 */
final class ServerPom {
  static final String CUDA_PROFILE = "cuda";

  private final Element server;
  private final Element parent;

  private ServerPom(Element server, Element parent) {
    this.server = server;
    this.parent = parent;
  }

  static ServerPom load() {
    Path root = Variant.moduleDir().resolve("..").normalize();
    return new ServerPom(parse(root.resolve("server/pom.xml")), parse(root.resolve("pom.xml")));
  }

  /** The shaded jar's file name without {@code .jar}, in the default build or with -Pcuda. */
  String jarName(boolean cuda) {
    Element shade = shadePlugin(server);
    String finalName = text(path(firstExecution(shade), "configuration", "finalName"));
    String name = finalName;
    if (finalName.startsWith("${") && finalName.endsWith("}")) {
      String key = finalName.substring(2, finalName.length() - 1);
      name =
          cuda
              ? property(cudaProfile(), key).orElseGet(() -> property(server, key).orElseThrow())
              : property(server, key).orElseThrow();
    }
    return name;
  }

  /** groupId:artifactId patterns the cuda profile's shade execution excludes from the jar. */
  List<String> cudaJarExcludes() {
    Element build = child(cudaProfile(), "build");
    if (build == null) {
      throw new AssertionError("the cuda profile has no <build>");
    }
    Element exec = firstExecution(shadePlugin(build));
    // The profile's execution must be the main build's, so that Maven merges the two.
    if (!text(child(exec, "id")).equals(text(child(firstExecution(shadePlugin(server)), "id")))) {
      throw new AssertionError("the cuda profile's shade execution id differs from the build's");
    }
    List<String> out = new ArrayList<>();
    Element excludes = path(exec, "configuration", "artifactSet", "excludes");
    for (Element e : children(excludes, "exclude")) {
      out.add(text(e));
    }
    return out;
  }

  /** A property of the parent POM, e.g. {@code pytorch.version}. */
  String parentProperty(String key) {
    return property(parent, key).orElseThrow(() -> new AssertionError("no property " + key));
  }

  private Element cudaProfile() {
    Element profiles = child(server, "profiles");
    for (Element p : children(profiles, "profile")) {
      if (CUDA_PROFILE.equals(text(child(p, "id")))) {
        return p;
      }
    }
    throw new AssertionError("server/pom.xml has no profile " + CUDA_PROFILE);
  }

  private static Optional<String> property(Element owner, String key) {
    Element props = child(owner, "properties");
    if (props == null) {
      return Optional.empty();
    }
    Element p = child(props, key);
    return p == null ? Optional.empty() : Optional.of(text(p));
  }

  private static Element shadePlugin(Element projectOrBuildOwner) {
    Element build =
        "build".equals(projectOrBuildOwner.getTagName())
            ? projectOrBuildOwner
            : child(projectOrBuildOwner, "build");
    for (Element plugin : children(child(build, "plugins"), "plugin")) {
      if ("maven-shade-plugin".equals(text(child(plugin, "artifactId")))) {
        return plugin;
      }
    }
    throw new AssertionError("no maven-shade-plugin in " + projectOrBuildOwner.getTagName());
  }

  private static Element firstExecution(Element plugin) {
    return children(child(plugin, "executions"), "execution").get(0);
  }

  private static Element path(Element from, String... names) {
    Element e = from;
    for (String n : names) {
      e = child(e, n);
      if (e == null) {
        throw new AssertionError("missing <" + n + "> under <" + from.getTagName() + ">");
      }
    }
    return e;
  }

  private static Element child(Element parent, String name) {
    List<Element> c = children(parent, name);
    return c.isEmpty() ? null : c.get(0);
  }

  private static List<Element> children(Element parent, String name) {
    List<Element> out = new ArrayList<>();
    if (parent == null) {
      return out;
    }
    for (Node n = parent.getFirstChild(); n != null; n = n.getNextSibling()) {
      if (n instanceof Element e && e.getTagName().equals(name)) {
        out.add(e);
      }
    }
    return out;
  }

  private static String text(Element e) {
    return e == null ? "" : e.getTextContent().strip();
  }

  private static Element parse(Path pom) {
    try {
      DocumentBuilderFactory f = DocumentBuilderFactory.newInstance();
      f.setFeature("http://apache.org/xml/features/disallow-doctype-decl", true);
      Document d = f.newDocumentBuilder().parse(pom.toFile());
      return d.getDocumentElement();
    } catch (ParserConfigurationException | SAXException | IOException e) {
      throw new AssertionError("cannot read " + pom + ": " + e.getMessage(), e);
    }
  }
}
