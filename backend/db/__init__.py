"""The store: SQLAlchemy models, engines and Alembic migrations (SQLite and PostgreSQL)."""

# The proposal tables share the index's declarative Base: importing them here registers them in
# `Base.metadata` whichever module of the package is imported first (migrations compare against it).
from backend.db import audit_models as audit_models  # noqa: E402
from backend.db import auth_models as auth_models  # noqa: E402
from backend.db import compliance_models as compliance_models  # noqa: E402
from backend.db import operator_models as operator_models  # noqa: E402
from backend.db import proposal_models as proposal_models  # noqa: E402
from backend.db import rate_limit_models as rate_limit_models  # noqa: E402
from backend.db import relay_models as relay_models  # noqa: E402
