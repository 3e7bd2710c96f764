"""copyvault's EIP-712 types, for clients that build documents themselves (the web app imports the
same file, backend/chain/eip712_types.json)."""

from __future__ import annotations

from fastapi import APIRouter

from backend.api.schemas import Eip712TypesOut
from backend.chain import eip712

router = APIRouter(tags=["eip712"])


@router.get("/eip712/types", response_model=Eip712TypesOut)
async def eip712_types() -> Eip712TypesOut:
    """Every signed type (TradeIntent, Withdrawal, ConfigChange) and EIP712Domain as
    eth_signTypedData_v4 `types` entries, with the domain's fixed name and version, the type
    strings and their typehashes."""
    return Eip712TypesOut.model_validate(eip712.types_document())
