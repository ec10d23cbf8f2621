"""Account-setup REST payloads clients fetch before trading (pure builders).

ccxt calls ``/v5/user/query-api`` and ``/v5/account/info`` (``is_unified_enabled``) before
its first order; a simulated account is a UTA 2.0 unified account, as new Bybit accounts are.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from hybridstream.simulator.positions import format_decimal


def build_api_key_info(api_key: str, uid: int, created_ms: int) -> dict[str, Any]:
    """``/v5/user/query-api``: a read-write key with contract trading; never the secret."""
    return {
        "id": str(uid), "note": "simulator", "apiKey": api_key, "readOnly": 0, "secret": "",
        "permissions": {"ContractTrade": ["Order", "Position"], "Spot": ["SpotTrade"],
                        "Wallet": ["AccountTransfer"], "Options": [], "Derivatives": [],
                        "CopyTrading": [], "BlockTrade": [], "Exchange": [], "NFT": []},
        "ips": ["*"], "type": 1, "deadlineDay": 90, "expiredAt": "", "createdAt": "",
        "unified": 0, "uta": 1, "userID": uid, "inviterID": 0, "vipLevel": "No VIP",
        "mktMakerLevel": "0", "affiliateID": 0, "rsaPublicKey": "", "isMaster": True,
        "parentUid": "0", "kycLevel": "LEVEL_DEFAULT", "kycRegion": "",
        "createdTime": str(created_ms),
    }


def build_account_info(updated_ms: int) -> dict[str, Any]:
    """``/v5/account/info``: unified (status 6, UTA 2.0 pro), regular margin."""
    return {"marginMode": "REGULAR_MARGIN", "updatedTime": str(updated_ms),
            "unifiedMarginStatus": 6, "dcpStatus": "OFF", "timeWindow": 10, "smpGroup": 0,
            "isMasterTrader": False, "spotHedgingStatus": "OFF"}


def build_fee_rates(symbols: Iterable[str], taker: Decimal, maker: Decimal) -> list[dict[str, str]]:
    """``/v5/account/fee-rate`` rows (derivatives rows carry no ``baseCoin``)."""
    return [{"symbol": s, "takerFeeRate": format_decimal(taker),
             "makerFeeRate": format_decimal(maker)} for s in symbols]
