package dev.llavast.server.tenancy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.llavast.server.errors.ApiException;
import dev.llavast.server.errors.Reason;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ApiKeysTest {
  @TempDir Path dir;

  @Test
  void keysMapToTheirTenantsAndTheHeaderIsCheckedInOurWords() throws Exception {
    ApiKeys keys =
        ApiKeys.load(
            Files.writeString(
                dir.resolve("keys"),
                "# comment\nacme  aaaaaaaaaaaaaaaaaaaa\nacme bbbbbbbbbbbbbbbbbbbb\nglobex cccccccccccccccccccc\n"));
    assertThat(keys.required()).isTrue();
    assertThat(keys.tenants()).isEqualTo(2);
    assertThat(keys.authenticate(Optional.of("Bearer bbbbbbbbbbbbbbbbbbbb")))
        .isEqualTo(new Tenant("acme"));
    assertThat(keys.authenticate(Optional.of("bearer cccccccccccccccccccc")))
        .isEqualTo(new Tenant("globex"));
    for (Optional<String> bad :
        java.util.List.of(
            Optional.<String>empty(),
            Optional.of("Basic xyz"),
            Optional.of("Bearer "),
            Optional.of("Bearer dddddddddddddddddddd"))) {
      assertThatThrownBy(() -> keys.authenticate(bad))
          .isInstanceOfSatisfying(
              ApiException.class,
              e -> {
                assertThat(e.reason()).isEqualTo(Reason.UNAUTHENTICATED);
                assertThat(e.getMessage()).doesNotContain("dddd").doesNotContain("xyz");
              });
    }
    assertThat(ApiKeys.open().authenticate(Optional.empty())).isEqualTo(Tenant.OPEN);
  }

  @Test
  void aBadFileNamesTheLineNeverTheKey() throws Exception {
    Path shortKey = Files.writeString(dir.resolve("k1"), "acme short-secret\n");
    assertThatThrownBy(() -> ApiKeys.load(shortKey))
        .hasMessageContaining("k1:1")
        .hasMessageNotContaining("short-secret");
    Path badTenant = Files.writeString(dir.resolve("k2"), "\nac/me aaaaaaaaaaaaaaaaaaaa\n");
    assertThatThrownBy(() -> ApiKeys.load(badTenant)).hasMessageContaining("k2:2");
    Path empty = Files.writeString(dir.resolve("k3"), "# nothing\n");
    assertThatThrownBy(() -> ApiKeys.load(empty)).hasMessageContaining("no key");
  }

  @Test
  void tenantsScopeIdsAndTheOpenTenantLeavesThemAlone() {
    assertThat(Tenant.OPEN.scope("sha256:ab")).isEqualTo("sha256:ab");
    assertThat(new Tenant("acme").scope("sha256:ab")).isEqualTo("acme/sha256:ab");
    assertThat(new Tenant("acme").scope("x")).isNotEqualTo(new Tenant("globex").scope("x"));
  }
}
