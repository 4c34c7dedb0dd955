"""The ROCA fingerprint (CVE-2017-15361): RSA moduli from Infineon's flawed key generator.

Nemec, Sys, Svenda, Klinec and Matyas, "The Return of Coppersmith's Attack: Practical
Factorization of Widely Used RSA Moduli", ACM CCS 2017. That generator makes every prime as
k * M + (65537^a mod M), M a primorial, so a modulus n = p * q is 65537^(a+b) modulo each
small prime of M. The published detector tests the primes 3 to 167: for each one, n mod p
must lie in the subgroup 65537 generates (the authors' first test), and, as their later
discrete-logarithm test does, the exponents found modulo each prime must agree on one a + b.
A random modulus passes the first test with probability 2^-28 and both with 2^-155.
"""

from __future__ import annotations

import math

GENERATOR = 65537
# The primes the published detector tests (2 says nothing: every RSA modulus is odd).
FINGERPRINT_PRIMES = (
    3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71,
    73, 79, 83, 89, 97, 101, 103, 107, 109, 113, 127, 131, 137, 139, 149, 151, 157, 163, 167,
)  # fmt: skip


def _discrete_logarithms(prime: int) -> dict[int, int]:
    """{65537^e mod prime: e} over the subgroup 65537 generates; its size is the order."""
    logarithms: dict[int, int] = {}
    element = 1
    while element not in logarithms:
        logarithms[element] = len(logarithms)
        element = element * GENERATOR % prime
    return logarithms


# Computed once at import: 38 tables of at most 166 entries.
_LOGARITHM_TABLES = tuple((prime, _discrete_logarithms(prime)) for prime in FINGERPRINT_PRIMES)


def has_roca_fingerprint(modulus: int) -> bool:
    """True when an RSA modulus has the ROCA structure: it is factorable, so never trust it."""
    exponent, exponent_modulus = 0, 1  # every prime so far agrees: e = exponent (mod this)
    for prime, logarithms in _LOGARITHM_TABLES:
        logarithm = logarithms.get(modulus % prime)
        if logarithm is None:
            return False  # n mod p is outside the subgroup 65537 generates
        order = len(logarithms)
        common = math.gcd(exponent_modulus, order)
        if (logarithm - exponent) % common:
            return False  # no single exponent explains both residues
        # Chinese remainder step: the exponents left are one class modulo lcm(so far, order).
        new_part = order // common
        step = (logarithm - exponent) // common * pow(exponent_modulus // common, -1, new_part)
        exponent += exponent_modulus * (step % new_part)
        exponent_modulus *= new_part
    return True
