"""Numbers and users of the OIDC tests (the provider process is oidc-provider-mock)."""

from __future__ import annotations

TOKEN_AGE = 30
REFRESH_MARGIN = 25
OIDC_USERS = [
    {"sub": name, "preferred_username": name, "email": f"{name}@uni.example", "groups": groups}
    for name, groups in [
        ("admin", ["staff"]),
        ("olivia", ["robotics-101", "lab-a"]),
        ("petra", ["robotics-101"]),
        ("quinn", []),
        ("rita", ["lab-a"]),
        ("sam", []),
    ]
]
