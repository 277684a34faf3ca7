package dev.llavast.server.tenancy;

import java.util.Objects;
import java.util.regex.Pattern;

/**
 * Whose request it is: the namespace of media ids, sessions and request ids. Another tenant's id is
 * not in this namespace, so it is unknown (NOT_FOUND), never "forbidden". A server without API keys
 * has one tenant, {@link #OPEN}.
 *
 * @param id letters, digits, '.', '_' and '-' (1 to 64); empty only for {@link #OPEN}
 */
public record Tenant(String id) {
  private static final Pattern ID = Pattern.compile("[A-Za-z0-9._-]{1,64}");

  /** The one tenant of a server that runs without API keys. */
  public static final Tenant OPEN = new Tenant("");

  public Tenant {
    Objects.requireNonNull(id, "id");
    if (!id.isEmpty() && !ID.matcher(id).matches()) {
      throw new IllegalArgumentException("a tenant is 1 to 64 of [A-Za-z0-9._-], got '" + id + "'");
    }
  }

  /**
   * {@code id} inside this tenant's namespace: unique across tenants, the same id for {@link
   * #OPEN}.
   */
  public String scope(String id) {
    return this.id.isEmpty() ? id : this.id + "/" + id;
  }

  @Override
  public String toString() {
    return id.isEmpty() ? "(open)" : id;
  }
}
