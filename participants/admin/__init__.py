"""The console's participants pages, one module a job (docs/architecture.md): participants
(`participants`, their page's tables in `inlines`, the import's forms in `import_flow`),
referrals (`referrals`), rewards (`rewards`) and the review queue (`review_queue`). Importing the
package registers every admin and hook once.
"""

from .import_flow import (
    ParticipantConfirmImportForm,
    ParticipantImportForm,
)
from .inlines import (
    CodesAndLinksInline,
    ReadOnlyTabularInline,
    ReferralsInline,
    RewardsInline,
    reward_what,
)
from .participants import (
    BlockForm,
    ParticipantAdmin,
    ShortOfCodesFilter,
)
from .referrals import (
    ReferralAdmin,
)
from .review_queue import (
    ReviewReasonForm,
    review_queue_url,
)
from .rewards import (
    RewardAdmin,
    RewardColumns,
    reward_admin_add_columns,
)

__all__ = [
    "BlockForm",
    "CodesAndLinksInline",
    "ParticipantAdmin",
    "ParticipantConfirmImportForm",
    "ParticipantImportForm",
    "ReadOnlyTabularInline",
    "ReferralAdmin",
    "ReferralsInline",
    "ReviewReasonForm",
    "RewardAdmin",
    "RewardColumns",
    "RewardsInline",
    "ShortOfCodesFilter",
    "review_queue_url",
    "reward_admin_add_columns",
    "reward_what",
]
