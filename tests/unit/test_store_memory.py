"""The feature store contract against the in-memory implementation."""

import pytest

from stream.store import InMemoryFeatureStore
from tests.store_contract import FeatureStoreContract


class TestInMemoryFeatureStore(FeatureStoreContract):
    @pytest.fixture
    def store(self) -> InMemoryFeatureStore:
        return InMemoryFeatureStore(history_length=3)
