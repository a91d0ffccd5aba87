"""The Fernet cipher that keeps Google tokens and PKCE verifiers unreadable at rest."""

from __future__ import annotations

import pytest

from core.google.tokens import TokenCipher, TokenDecryptError


def test_round_trip_and_ciphertext_hides_the_token() -> None:
    cipher = TokenCipher("key-one")
    sealed = cipher.encrypt("1//refresh-token")
    assert "refresh" not in sealed and "key-one" not in sealed
    assert cipher.decrypt(sealed) == "1//refresh-token"
    assert cipher.encrypt("same") != cipher.encrypt("same")  # random IV each time


def test_rotation_old_keys_still_decrypt_and_rotate_moves_to_the_new_key() -> None:
    sealed_old = TokenCipher("key-one").encrypt("secret")
    rotated_cipher = TokenCipher("key-two", old_keys=["key-one"])
    assert rotated_cipher.decrypt(sealed_old) == "secret"
    resealed = rotated_cipher.rotate(sealed_old)
    assert TokenCipher("key-two").decrypt(resealed) == "secret"
    with pytest.raises(TokenDecryptError):
        TokenCipher("key-one").decrypt(resealed)


def test_unknown_key_is_a_clear_error_without_the_secret() -> None:
    sealed = TokenCipher("key-one").encrypt("secret")
    with pytest.raises(TokenDecryptError, match="SECRET_KEY") as caught:
        TokenCipher("key-three").decrypt(sealed)
    assert "secret" not in str(caught.value).replace("SECRET_KEY", "")


def test_empty_key_refused() -> None:
    with pytest.raises(ValueError, match="SECRET_KEY"):
        TokenCipher("")
