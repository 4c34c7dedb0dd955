"""A real RSA key with the ROCA structure (CVE-2017-15361), for the validator's and the
IdP's refusal tests: primes k * M + (65537^a mod M), as Infineon's flawed generator made them."""

from __future__ import annotations

import math
import random

from cryptography.hazmat.primitives.asymmetric import rsa

ROCA_PRIME_COUNT_2048 = 126


def _first_primes(count: int) -> list[int]:
    primes: list[int] = []
    candidate = 2
    while len(primes) < count:
        if all(candidate % prime for prime in primes if prime * prime <= candidate):
            primes.append(candidate)
        candidate += 1
    return primes


ROCA_PRIMORIAL_2048 = math.prod(_first_primes(ROCA_PRIME_COUNT_2048))  # 971 bits


def _is_probable_prime(number: int, rng: random.Random, rounds: int = 40) -> bool:
    """Miller-Rabin; the candidates have no factor below 702 by construction."""
    odd_part, twos = number - 1, 0
    while odd_part % 2 == 0:
        odd_part, twos = odd_part // 2, twos + 1
    for _ in range(rounds):
        x = pow(rng.randrange(2, number - 1), odd_part, number)
        if x in (1, number - 1):
            continue
        for _ in range(twos - 1):
            x = x * x % number
            if x == number - 1:
                break
        else:
            return False
    return True


def _roca_prime(rng: random.Random) -> int:
    """A 1024-bit prime k * M + (65537^a mod M) with its two top bits set, as the flawed
    generator made them; 65537 is prime to M, so every candidate is prime to M too."""
    low, high = 3 << 1022, 1 << 1024
    while True:
        residue = pow(65537, rng.randrange(1, 1 << 64), ROCA_PRIMORIAL_2048)
        k = rng.randrange(
            (low - residue) // ROCA_PRIMORIAL_2048 + 1, (high - residue) // ROCA_PRIMORIAL_2048
        )
        prime = k * ROCA_PRIMORIAL_2048 + residue
        if (prime - 1) % 65537 and _is_probable_prime(prime, rng):
            return prime


def roca_private_key(seed: int = 15361) -> rsa.RSAPrivateKey:
    """A real, working 2048-bit RSA key with the ROCA structure, the same for the same seed
    (about 0.5 s); wrap it in a certificate with make_signer or cryptography's builder."""
    rng = random.Random(seed)
    p = _roca_prime(rng)
    q = _roca_prime(rng)
    while q == p:
        q = _roca_prime(rng)
    d = pow(65537, -1, (p - 1) * (q - 1))
    return rsa.RSAPrivateNumbers(
        p=p,
        q=q,
        d=d,
        dmp1=rsa.rsa_crt_dmp1(d, p),
        dmq1=rsa.rsa_crt_dmq1(d, q),
        iqmp=rsa.rsa_crt_iqmp(p, q),
        public_numbers=rsa.RSAPublicNumbers(65537, p * q),
    ).private_key()
