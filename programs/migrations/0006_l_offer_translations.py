import programs.models
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("programs", "0005_l_labels"),
    ]

    # Programs that exist keep their own offer for every language ({}): the default offer's
    # translations are only for programs created from now on.
    operations = [
        migrations.AddField(
            model_name="program",
            name="friend_offer_translations",
            field=models.JSONField(
                blank=True,
                default=dict,
                help_text="The offer per language: {language code: text}.",
                verbose_name="friend offer text in other languages",
            ),
        ),
        migrations.AlterField(
            model_name="program",
            name="friend_offer_translations",
            field=models.JSONField(
                blank=True,
                default=programs.models.default_friend_offer_translations,
                help_text="The offer per language: {language code: text}.",
                verbose_name="friend offer text in other languages",
            ),
        ),
        migrations.AlterField(
            model_name="program",
            name="friend_offer_text",
            field=models.CharField(
                default="Give your friends 20% off their first order.",
                help_text="Shown in the widget above the advocate's code, to advocates whose "
                "language has no version of its own below.",
                max_length=300,
                verbose_name="friend offer text",
            ),
        ),
    ]
