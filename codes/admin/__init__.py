"""The console's codes pages, one module a job (docs/architecture.md): pools and the stock page
(`pools`), batches and the upload flow (`batches`), the code manager (`code_manager`), stock
alerts (`alerts`), voiding codes (`void`), the program page's codes part (`program_page`).
Importing the package registers every admin and hook once.
"""

from .alerts import (
    StockAlertAdmin,
)
from .batches import (
    PREVIEW_ROWS_SHOWN,
    BatchAdmin,
)
from .code_manager import (
    EXPORT_NAME_PROGRAMS_CHECKED,
    XLSX,
    CodeManagerColumns,
    LeakedFilter,
    PromoCodeAdmin,
    ValidityFilter,
    code_manager_add_columns,
)
from .pools import (
    PoolAdmin,
)
from .program_page import (
    pools_overview,
)
from .shared import (
    leaked_codes_url,
    stock_url,
)

__all__ = [
    "EXPORT_NAME_PROGRAMS_CHECKED",
    "PREVIEW_ROWS_SHOWN",
    "XLSX",
    "BatchAdmin",
    "CodeManagerColumns",
    "LeakedFilter",
    "PoolAdmin",
    "PromoCodeAdmin",
    "StockAlertAdmin",
    "ValidityFilter",
    "code_manager_add_columns",
    "leaked_codes_url",
    "pools_overview",
    "stock_url",
]
