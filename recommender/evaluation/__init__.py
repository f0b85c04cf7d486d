"""Offline evaluation of the recommender (``streamrec evaluate``): static and streaming protocols.

Everything here goes through the code the API uses: events become features with
``stream.features.feature_update`` and ``InMemoryFeatureStore.apply``, models are trained with
``recommender.train.train_model`` and users are served by ``RecommendationService`` (fold-in at
request time). Only splitting, scoring and reporting live in this package.
"""
