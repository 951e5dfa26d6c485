# Hand-written: an entry's time is when it happened (a default), not when its row is
# inserted (auto_now_add), so entries written later in a batch keep their own time. The
# column is unchanged (Django's defaults live in Python).
import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("portal", "0003_preferences")]

    operations = [
        migrations.AlterField(
            model_name="auditevent",
            name="created_at",
            field=models.DateTimeField(db_index=True, default=django.utils.timezone.now, editable=False),
        ),
    ]
