from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AnalysisConfig(AppConfig):
    name = "sentinelle.analysis"
    label = "analysis"
    verbose_name = _("Analysis")

    def ready(self) -> None:
        from django.db.models.signals import post_save

        from sentinelle.analysis import linking
        from sentinelle.incidents.models import Incident

        def follow_merge(sender, instance, **kwargs) -> None:
            # A linked report merged into its State's primary: the link follows the primary.
            if not kwargs.get("raw"):
                linking.follow_merge(instance)

        post_save.connect(follow_merge, sender=Incident, dispatch_uid="analysis-follow-merge",
                          weak=False)
