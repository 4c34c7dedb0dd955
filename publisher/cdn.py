"""CloudFront: one invalidation per run, for exactly the paths that changed."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from publisher.aws_errors import describe_aws_error
from publisher.errors import CdnError


class CloudFrontInvalidator:
    """Invalidates viewer paths on one distribution; does not wait (invalidations take minutes)."""

    def __init__(self, client: Any, distribution_id: str) -> None:
        self.client = client
        self.distribution_id = distribution_id

    def invalidate(self, paths: Sequence[str]) -> str:
        """Create one invalidation for `paths`; returns its id. A fresh CallerReference each
        time, so a rerun after a failure (or a later rollback to the same bytes) invalidates again.
        """
        action = f"invalidating {', '.join(paths)} on distribution {self.distribution_id}"
        try:
            response = self.client.create_invalidation(
                DistributionId=self.distribution_id,
                InvalidationBatch={
                    "Paths": {"Quantity": len(paths), "Items": list(paths)},
                    "CallerReference": f"tokenidp-publisher-{uuid.uuid4().hex}",
                },
            )
        except (BotoCoreError, ClientError) as error:
            raise CdnError(describe_aws_error(error, service="CloudFront", action=action)) from None
        return str(response["Invalidation"]["Id"])
